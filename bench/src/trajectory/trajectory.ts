/**
 * The trajectory check end to end, without printing: write the inputs file, start PyTorch's twin
 * (a child process, on the other core), train our float64 and float32 runs meanwhile, hand our
 * float64 states at the sampled steps to PyTorch (the resync check), and apply the rules of
 * check.ts to each method. run.ts is the command around it; the test runs a short version.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { checkCurves, checkResync, type CurveCheck, type ResyncCheck } from './check.js';
import { writeF64Safetensors, type F64Array } from './f64-file.js';
import { makeInputs, type TrajectoryMethod, type TwinConfig } from './inputs.js';
import { readOursInputs, trainOurs, type Curve } from './ours.js';
import { BENCH_DIR, runTorch, type TorchResult } from './torch.js';

export interface TrajectoryOptions {
  methods: readonly TrajectoryMethod[];
  steps: number;
  batch: number;
  /** The python that imports torch (see findTorch). */
  python: string;
  /** Resync every this many steps (and at steps 1 and `steps`). */
  every: number;
  /** Torch's float32 rounding variants: runs from a one-ulp start, runs on permuted batches; float64 runs from a one-ulp start. */
  ulps: number;
  perms: number;
  ulps64: number;
  /** Folder of the inputs and exchange files (default bench/results). */
  dir?: string;
  /** Distinguishes the files of concurrent runs (default 'latest'). */
  tag?: string;
  /** Progress messages (default: none). */
  progress?: (msg: string) => void;
  /** Show the twin's progress on this process's stderr (default true). */
  torchProgress?: boolean;
}

export interface MethodResult {
  method: TrajectoryMethod;
  ours: { float32: Curve; float64: Curve };
  /** Torch's runs by name: f64, f64-ulp1, f32, f32-ulp1, f32-ulp2, f32-perm1, ... */
  torch: Record<string, Curve>;
  /** The same math: one float64 step from our state at the sampled steps. */
  resync: ResyncCheck;
  /** The float32 free runs against torch's rounding envelope (judged). */
  float32: CurveCheck;
  /** The float64 free runs against torch's one-ulp float64 variant (shown, not judged). */
  float64: CurveCheck;
  /** Our float32 run's distance from our float64 run, largest over the steps (relative): our own float32 drift. */
  oursDrift: number;
  pass: boolean;
  /** Seconds of our two runs. */
  oursSeconds: { float32: number; float64: number };
}

export interface TrajectoryResult {
  config: TwinConfig;
  torchVersion: string;
  torchSeconds: Record<string, number>;
  resyncSteps: number[];
  methods: MethodResult[];
  pass: boolean;
  inputsFile: string;
  seconds: number;
}

const losses = (c: Curve) => c.map((r) => r[0]);

/** Steps 1, every, 2·every, …, and the last. */
export function sampledSteps(steps: number, every: number): number[] {
  return [...new Set([1, ...Array.from({ length: Math.floor(steps / every) }, (_, i) => (i + 1) * every), steps])];
}

const settle = <T>(p: Promise<T>) => p.then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e }));
function unwrap<T>(s: { ok: true; r: T } | { ok: false; e: unknown }): T {
  if (s.ok) return s.r;
  throw s.e instanceof Error ? s.e : new Error(String(s.e));
}

export async function runTrajectory(o: TrajectoryOptions): Promise<TrajectoryResult> {
  const t0 = performance.now();
  const say = o.progress ?? (() => {});
  const dir = o.dir ?? path.join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const tag = o.tag ?? 'latest';
  const file = (name: string) => path.join(dir, `trajectory-${tag}-${name}`);
  const inputsFile = file('inputs.safetensors');
  const config = makeInputs(inputsFile, { methods: o.methods, steps: o.steps, batch: o.batch });
  say(`inputs written to ${path.relative(process.cwd(), inputsFile)} (${o.methods.join(', ')}; ${o.steps} steps of ${o.batch} images)`);

  // PyTorch trains in its own process while ours train here; a failure is reported after ours finish.
  const showProgress = o.torchProgress ?? true;
  const torchRuns = settle(runTorch({ python: o.python, inputs: inputsFile, out: file('torch.json'), mode: { methods: o.methods, ulps: o.ulps, perms: o.perms, ulps64: o.ulps64 }, showProgress }));

  const inputs = readOursInputs(inputsFile);
  const resyncSteps = sampledSteps(o.steps, o.every);
  const states: Record<string, F64Array> = {};
  const ours = new Map<TrajectoryMethod, { float32: Curve; float64: Curve; seconds: { float32: number; float64: number } }>();
  for (const method of o.methods) {
    let s = performance.now();
    const f64 = trainOurs(inputs, method, 'float64', new Set(resyncSteps));
    const seconds64 = (performance.now() - s) / 1000;
    say(`simplex-vq ${method} float64: ${o.steps} steps in ${seconds64.toFixed(1)} s`);
    for (const snap of f64.snapshots) {
      const key = `${method}/${snap.step}/`;
      for (const [n, a] of Object.entries(snap.state)) states[`${key}state.${n}`] = a;
      for (const [n, a] of Object.entries(snap.grads)) states[`${key}grad.${n}`] = a;
      states[`${key}loss`] = { shape: [], data: Float64Array.of(snap.loss) };
    }
    s = performance.now();
    const f32 = trainOurs(inputs, method, 'float32');
    const seconds32 = (performance.now() - s) / 1000;
    say(`simplex-vq ${method} float32: ${o.steps} steps in ${seconds32.toFixed(1)} s`);
    ours.set(method, { float32: f32.curve, float64: f64.curve, seconds: { float32: seconds32, float64: seconds64 } });
    await new Promise((resolve) => setImmediate(resolve)); // let the twin's progress through
  }
  const statesFile = file('states.safetensors');
  writeF64Safetensors(statesFile, states);
  const resync = settle(runTorch({ python: o.python, inputs: inputsFile, out: file('resync.json'), mode: { resync: statesFile }, showProgress }));
  const torch: TorchResult = unwrap(await torchRuns);
  const resynced: TorchResult = unwrap(await resync);

  const methods: MethodResult[] = o.methods.map((method) => {
    const runs = torch.runs?.[method];
    const rows = resynced.resync?.[method];
    if (!runs || !rows) throw new Error(`the torch twin returned no ${runs ? 'resync rows' : 'runs'} for ${method}`);
    const mine = ours.get(method)!;
    const named = (prefix: string) => Object.keys(runs).filter((k) => k.startsWith(prefix)).map((k) => losses(runs[k]!));
    const t64 = losses(runs.f64!), t32 = losses(runs.f32!);
    const float32 = checkCurves(losses(mine.float32), t32, [...named('f32-ulp'), ...named('f32-perm'), t64], 'float32');
    const float64 = checkCurves(losses(mine.float64), t64, named('f64-ulp'), 'float64');
    const oursDrift = Math.max(...mine.float32.map((r, i) => Math.abs(r[0] - mine.float64[i]![0]) / Math.abs(mine.float64[i]![0])));
    const resyncCheck = checkResync(rows, o.batch);
    return {
      method,
      ours: { float32: mine.float32, float64: mine.float64 },
      torch: runs,
      resync: resyncCheck,
      float32,
      float64,
      oursDrift,
      pass: resyncCheck.pass && float32.pass,
      oursSeconds: mine.seconds,
    };
  });
  return {
    config,
    torchVersion: torch.torch,
    torchSeconds: torch.seconds ?? {},
    resyncSteps,
    methods,
    pass: methods.every((m) => m.pass),
    inputsFile,
    seconds: (performance.now() - t0) / 1000,
  };
}
