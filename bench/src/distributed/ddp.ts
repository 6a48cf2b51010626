/**
 * The distributed check: simplex-vq's `shards: 2` on one batch against PyTorch's
 * DistributedDataParallel over two processes (torchrun, gloo), each process's KNN regularizer on
 * its own half of the batch (bench/peer/torch_ddp_shards.py, which explains why the two are the
 * same function). One forward and backward from the same weights; the loss and every gradient
 * compared by the rule of rule.ts, in float64 (same math?) and in float32 (what users see).
 *
 * The start: for each method, the app's model (its defaults, `shards: 2`) after its data
 * initialization (k-means on batch 1 of the app's Batcher, τ rescaled; done here once, in float32,
 * as the app's first training step does it); the step is on batch 2. Both go to an inputs file:
 *
 *   tensors   <method>.<name>   the state dict after the initialization
 *             batch             [B, 1, 28, 28], the step's images
 *   metadata  config            TwinConfig (setup.ts) as JSON
 *
 * Not vacuous: the same step with `shards: 1` (the KNN over all B·49 rows) is computed by both
 * engines too, and its KNN term and gradients must differ from the sharded ones by far more than
 * the tolerance (`contrast`); PyTorch's in-process `shards: 2` twin must equal its DDP run.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CpuBackend, noGrad, setBackend, type Tensor } from '@simplex-vq/tensor';
import { parseSafetensors, serializeSafetensors } from '@simplex-vq/nn';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';
import { f64Of, type F64Array } from '../trajectory/f64-file.js';
import { BENCH_DIR } from '../trajectory/torch.js';
import { readResultsFile } from './results-file.js';
import { floorOf, judge, relArray, relScalar, worstOf, type Judged, type Precision } from './rule.js';
import { images, mnistBatches, newModel, twinQuantizer, type DistributedMethod, type TwinConfig } from './setup.js';
import { freePort, localGlooEnv, runPeer, torchrunArgs } from './torch.js';

/** The loss and its parts, as both engines report them. */
export interface LossParts {
  loss: number;
  recon: number;
  commitment: number;
  knn: number;
}
const PARTS = ['loss', 'recon', 'commitment', 'knn'] as const;

export interface StepResult {
  parts: LossParts;
  grads: Record<string, F64Array>;
}

/** Writes the inputs file; returns the twin's config. */
export function makeDdpInputs(file: string, methods: readonly DistributedMethod[], batch: number, shards: number): TwinConfig {
  setBackend(new CpuBackend({ threads: 1 }));
  const { batches, outputBias } = mnistBatches(2, batch);
  const tensors: Record<string, Tensor> = { batch: images(batches[1]!) };
  const quantizers: TwinConfig['quantizers'] = {};
  for (const method of methods) {
    const model = newModel(method, shards, outputBias);
    noGrad(() => model.forward(images(batches[0]!))); // the data initialization, as the app's first step does it
    for (const [name, t] of Object.entries(model.stateDict())) tensors[`${method}.${name}`] = t;
    quantizers[method] = twinQuantizer(model);
  }
  const { hidden, dim, codebookSize } = DEFAULTS;
  const config: TwinConfig = { methods: [...methods], batch, shards, hidden, dim, codebookSize, quantizers };
  writeFileAtomic(file, serializeSafetensors(tensors, { config: JSON.stringify(config) }));
  return config;
}

/** simplex-vq's step: the app's trainingLoss on the whole batch with `shards`, one thread, at `precision`. */
export function oursStep(inputs: Uint8Array, method: DistributedMethod, shards: number, precision: Precision): StepResult {
  setBackend(new CpuBackend({ threads: 1, precision }));
  const all = parseSafetensors(inputs).tensors;
  const prefix = `${method}.`;
  const state: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(all)) if (name.startsWith(prefix)) state[name.slice(prefix.length)] = t;
  const model = newModel(method, shards);
  model.loadStateDict(state); // strict; quantizer.initialized = 1, so no k-means runs again
  const out = model.trainingLoss(all.batch!);
  out.loss.backward();
  const stats = out.quantizer.stats;
  if (stats.commitment === undefined || stats.knn === undefined) throw new Error(`${method}: the quantizer reported no commitment or knn term`);
  return {
    parts: { loss: out.loss.item(), recon: out.recon.item(), commitment: stats.commitment, knn: stats.knn },
    // toArray: on the float64 backend data() would round to float32.
    grads: Object.fromEntries(model.namedParameters().map(([n, p]) => [n, f64Of(p.grad!)])),
  };
}

export interface PrecisionCheck {
  precision: Precision;
  /** loss, recon, commitment, knn, then 'grad <name>' for each parameter. */
  rows: Judged[];
  pass: boolean;
  worst: Judged;
  /** The largest gradient Δ and whose. */
  worstGrad: { what: string; deviation: number };
}

export interface MethodCheck {
  method: DistributedMethod;
  ours: { float32: LossParts; float64: LossParts; shards1: LossParts };
  torch: Record<string, LossParts>;
  float32: PrecisionCheck;
  float64: PrecisionCheck;
  /** shards 1 against shards 2 (float64, ours): the KNN term's and the gradients' relative difference; torch's KNN difference. */
  contrast: { knn: number; grad: number; torchKnn: number };
  /** PyTorch's in-process shards = 2 twin against its DDP run (float64; largest relative difference over loss and gradients). */
  inProcessVsDdp: number;
  /** Our shards = 1 against PyTorch's in-process shards = 1 (float64; largest relative difference). */
  shards1Agreement: number;
  pass: boolean;
}

export interface DdpResult {
  config: TwinConfig;
  torch: { version: string; backend: string; world: number; seconds: number };
  methods: MethodCheck[];
  pass: boolean;
  seconds: number;
}

export interface DdpOptions {
  python: string;
  methods: readonly DistributedMethod[];
  batch: number;
  /** Folder of the exchange files (default bench/results). */
  dir?: string;
  tag?: string;
  progress?: (msg: string) => void;
  /** Show PyTorch's progress on stderr (default false). */
  torchProgress?: boolean;
}

const SHARDS = 2;

/** Largest relative difference over the loss and every gradient of two steps. */
function stepDistance(a: StepResult, b: StepResult): number {
  return Math.max(relScalar(a.parts.loss, b.parts.loss), ...Object.keys(b.grads).map((n) => relArray(a.grads[n]!.data, b.grads[n]!.data)));
}

function checkPrecision(precision: Precision, ours: StepResult, torch: (run: string) => StepResult, batch: number): PrecisionCheck {
  const tag = precision === 'float32' ? 'f32' : 'f64';
  const ref = torch(tag);
  // PyTorch's own rounding variants of the same step; for float32 also its float64 result.
  const variants = [torch(`${tag}-perm`), torch(`${tag}-ulp`), ...(precision === 'float32' ? [torch('f64')] : [])];
  const floor = floorOf(precision, batch);
  const rows: Judged[] = PARTS.map((k) => judge(k, relScalar(ours.parts[k], ref.parts[k]), variants.map((v) => relScalar(v.parts[k], ref.parts[k])), floor));
  for (const n of Object.keys(ref.grads)) {
    const g = ref.grads[n]!.data;
    if (!ours.grads[n]) throw new Error(`simplex-vq has no gradient of ${n}`);
    rows.push(judge(`grad ${n}`, relArray(ours.grads[n].data, g), variants.map((v) => relArray(v.grads[n]!.data, g)), floor));
  }
  const grads = rows.filter((r) => r.what.startsWith('grad '));
  const wg = grads.reduce((w, r) => (r.deviation > w.deviation ? r : w));
  return { precision, rows, pass: rows.every((r) => r.pass), worst: worstOf(rows), worstGrad: { what: wg.what.slice(5), deviation: wg.deviation } };
}

export async function runDdpCheck(o: DdpOptions): Promise<DdpResult> {
  const t0 = performance.now();
  const say = o.progress ?? (() => {});
  const dir = o.dir ?? path.join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, `distributed-${o.tag ?? 'latest'}-${name}`);
  const inputsFile = file('ddp-inputs.safetensors');
  const config = makeDdpInputs(inputsFile, o.methods, o.batch, SHARDS);
  say(`inputs written to ${path.relative(process.cwd(), inputsFile)} (${o.methods.join(', ')}; ${o.batch} images, shards = ${SHARDS})`);

  // PyTorch's two processes run while ours compute here; a failure is reported after ours finish.
  const args = torchrunArgs(SHARDS, await freePort(), 'torch_ddp_shards.py', ['--inputs', inputsFile, '--out', file('ddp-torch.safetensors')]);
  const torchRun = runPeer({ python: o.python, args, resultPrefix: 'DDP-RESULT ', env: localGlooEnv(), showProgress: o.torchProgress ?? false }).then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );

  const bytes = readFileSync(inputsFile);
  const ours = new Map<DistributedMethod, { float32: StepResult; float64: StepResult; shards1: StepResult }>();
  for (const method of o.methods) {
    ours.set(method, {
      float32: oursStep(bytes, method, SHARDS, 'float32'),
      float64: oursStep(bytes, method, SHARDS, 'float64'),
      shards1: oursStep(bytes, method, 1, 'float64'),
    });
    say(`simplex-vq ${method}: the step in float32 and float64 with shards = ${SHARDS}, and with shards = 1`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const settled = await torchRun;
  if (!settled.ok) throw settled.e instanceof Error ? settled.e : new Error(String(settled.e));
  const res = readResultsFile(settled.r);
  const losses = JSON.parse(res.metadata.losses!) as Record<string, Record<string, LossParts>>;
  say(`PyTorch: ${res.metadata.world} processes (${res.metadata.backend}), ${Number(res.metadata.seconds).toFixed(1)} s in the script`);

  const methods = o.methods.map((method): MethodCheck => {
    const torch = (run: string): StepResult => {
      const parts = losses[method]?.[run];
      if (!parts) throw new Error(`the torch result has no ${method}/${run}`);
      const prefix = `${method}/${run}/grad.`;
      const grads = Object.fromEntries(Object.entries(res.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
      return { parts, grads };
    };
    const mine = ours.get(method)!;
    const float32 = checkPrecision('float32', mine.float32, torch, o.batch);
    const float64 = checkPrecision('float64', mine.float64, torch, o.batch);
    const s1 = mine.shards1, s2 = mine.float64;
    const contrast = {
      knn: relScalar(s1.parts.knn, s2.parts.knn),
      grad: Math.max(...Object.keys(s2.grads).map((n) => relArray(s1.grads[n]!.data, s2.grads[n]!.data))),
      torchKnn: relScalar(torch('single-s1').parts.knn, torch('f64').parts.knn),
    };
    return {
      method,
      ours: { float32: mine.float32.parts, float64: mine.float64.parts, shards1: s1.parts },
      torch: losses[method]!,
      float32,
      float64,
      contrast,
      inProcessVsDdp: stepDistance(torch('single-s2'), torch('f64')),
      shards1Agreement: stepDistance(s1, torch('single-s1')),
      pass: float32.pass && float64.pass,
    };
  });
  return {
    config,
    torch: { version: res.metadata.torch!, backend: res.metadata.backend!, world: Number(res.metadata.world), seconds: Number(res.metadata.seconds) },
    methods,
    pass: methods.every((m) => m.pass),
    seconds: (performance.now() - t0) / 1000,
  };
}
