/**
 * `npm run bench:trajectory -w bench`: the autoencoder trained by simplex-vq and by PyTorch from the
 * same start on the same batches, both loss curves side by side, and PASS when they agree within
 * what rounding explains (the rule: check.ts). See bench/README.md.
 *
 *   node dist/trajectory/run.js [--steps 100] [--batch 32] [--methods ste,knn-ce,fsq] [--every 10]
 *                               [--ulps 2] [--perms 1] [--ulps64 1] [--python <exe>]
 *
 * Exit status: 0 every method PASS; 1 a method FAILed or a run broke; 2 bad options;
 * 77 SKIPPED: no python can import torch, nothing was compared (77 is the "skipped" status of
 * automake's and meson's test harnesses). The tables go to stdout, progress to stderr; everything
 * printed also goes to results/trajectory-latest.md, the curves to results/trajectory-latest.json.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FACTOR, FLOOR_ULPS, resyncFloor, windowMean, type CurveCheck } from './check.js';
import { TRAJECTORY_METHODS, isTrajectoryMethod, type TrajectoryMethod } from './inputs.js';
import { BENCH_DIR, findTorch } from './torch.js';
import { runTrajectory, sampledSteps, type MethodResult } from './trajectory.js';

export const EXIT = { pass: 0, fail: 1, usage: 2, skipped: 77 } as const;

const HELP = `npm run bench:trajectory -w bench -- [options]

The discrete autoencoder (apps/autoencoder, its defaults) trained by simplex-vq and by PyTorch
(bench/peer/torch_trajectory.py) from the same start on the same batches, in float32 and float64.

  --steps N        training steps (default 100)
  --batch B        images a batch (default 32, the app's)
  --methods a,b    of ${TRAJECTORY_METHODS.join(', ')} (default: all three)
  --every N        resync and print every N-th step (default 10)
  --ulps N         torch's float32 runs from a start moved by one ulp (default 2)
  --perms N        torch's float32 runs on permuted batches (default 1)
  --ulps64 N       torch's float64 runs from a start moved by one ulp (default 1)
  --python EXE     the python with torch (default: $BENCH_TORCH_PYTHON, else python3, then /usr/bin/python3)

Exit status: 0 PASS, 1 FAIL, 2 bad options, 77 SKIPPED (no python imports torch).`;

function usage(msg: string): never {
  process.stderr.write(`bench:trajectory: ${msg}\n\n${HELP}\n`);
  process.exit(EXIT.usage);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        steps: { type: 'string', default: '100' },
        batch: { type: 'string', default: '32' },
        methods: { type: 'string', default: TRAJECTORY_METHODS.join(',') },
        every: { type: 'string', default: '10' },
        ulps: { type: 'string', default: '2' },
        perms: { type: 'string', default: '1' },
        ulps64: { type: 'string', default: '1' },
        python: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(EXIT.pass);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
  const methods = values.methods.split(',').filter(Boolean);
  const bad = methods.filter((m) => !isTrajectoryMethod(m));
  if (bad.length || methods.length === 0) usage(`--methods: unknown ${bad.join(', ') || '(none given)'}; choose from ${TRAJECTORY_METHODS.join(', ')}`);
  return {
    steps: int('steps', values.steps, 2),
    batch: int('batch', values.batch, 1),
    methods: methods as TrajectoryMethod[],
    every: int('every', values.every, 1),
    ulps: int('ulps', values.ulps, 0),
    perms: int('perms', values.perms, 0),
    ulps64: int('ulps64', values.ulps64, 1),
    python: values.python,
  };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

const e1 = (v: number) => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(1) : String(v));
const loss = (v: number) => v.toPrecision(7);
const verdict = (pass: boolean, firstFail: number | null) => (pass ? 'PASS' : `FAIL (first at step ${firstFail})`);

function describeCurves(c: CurveCheck): string {
  return `max Δ ${e1(c.maxDeviation)} (step ${c.maxDeviationStep}), E at the last step ${e1(c.finalEnvelope)}, ` +
    `worst Δ/(${FACTOR}E + floor) ${c.worstRatio.toFixed(2)} (step ${c.worstStep}; floor ${e1(c.floor)})`;
}

function methodReport(m: MethodResult, shown: readonly number[], steps: number): string {
  const resync = new Map(m.resync.rows.map((r) => [r.step, r]));
  const rows = shown.map((t) => {
    const a = m.float32.steps[t - 1]!, b = m.float64.steps[t - 1]!;
    const r = resync.get(t);
    return [String(t), loss(a.ours), loss(a.torch), e1(a.deviation), e1(a.envelope), loss(b.ours), loss(b.torch), e1(b.deviation), e1(b.envelope), r === undefined ? '–' : `${e1(r.deviation)} / ${e1(r.envelope)}`];
  });
  const from = Math.max(1, steps - 9);
  const mean = (c: number[]) => windowMean(c, from, steps).toPrecision(4);
  const o32 = m.ours.float32.map((r) => r[0]), t32 = m.torch.f32!.map((r) => r[0]);
  const variantMeans = Object.entries(m.torch).filter(([k]) => k.startsWith('f32-')).map(([, c]) => windowMean(c.map((r) => r[0]), from, steps));
  const rs = m.resync;
  return [
    `## ${m.method}: ${m.pass ? 'PASS' : 'FAIL'}`,
    '',
    table(['step', 'ours f32', 'torch f32', 'Δ f32', 'E f32', 'ours f64', 'torch f64', 'Δ f64', 'E f64', 'resync Δ / E'], rows),
    '',
    `- same math (float64 loss and gradients from our state at ${rs.rows.length} steps): ${verdict(rs.pass, rs.firstFail)} — largest Δ ${e1(rs.maxDeviation)}; worst Δ/(${FACTOR}E + floor) ${rs.worst.ratio.toFixed(2)} (${rs.worst.what}, step ${rs.worst.step}: Δ ${e1(rs.worst.deviation)}, E ${e1(rs.worst.envelope)}; floor ${e1(rs.floor)})`,
    `- float32 free runs: ${verdict(m.float32.pass, m.float32.firstFail)} — ${describeCurves(m.float32)}`,
    `- float64 free runs (shown, not judged): max Δ ${e1(m.float64.maxDeviation)} (step ${m.float64.maxDeviationStep}); torch's own one-ulp variant reaches ${e1(m.float64.finalEnvelope)}`,
    `- mean loss over steps ${from}–${steps}: ours f32 ${mean(o32)}, torch f32 ${mean(t32)} (torch's float32 variants ${Math.min(...variantMeans).toPrecision(4)}–${Math.max(...variantMeans).toPrecision(4)}); ours f64 ${mean(m.ours.float64.map((r) => r[0]))}, torch f64 ${mean(m.torch.f64!.map((r) => r[0]))}`,
    `- our float32 run's largest distance from our float64 run: ${e1(m.oursDrift)}`,
    `- time: simplex-vq float64 ${m.oursSeconds.float64.toFixed(1)} s, float32 ${m.oursSeconds.float32.toFixed(1)} s`,
  ].join('\n');
}

/** The resync steps as the header names them. */
const stepList = (o: { steps: number; every: number }) => sampledSteps(o.steps, o.every).join(', ');

async function main(): Promise<number> {
  const opt = options();
  const out: string[] = [];
  const say = (s: string) => {
    process.stdout.write(`${s}\n`);
    out.push(s);
  };
  const progress = (s: string) => process.stderr.write(`[trajectory] ${s}\n`);
  const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
  const mdFile = path.join(BENCH_DIR, 'results', 'trajectory-latest.md');
  say('# Trajectory check: the same training run in simplex-vq and in PyTorch');
  say('');
  say(`- ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, load average ${load()} at the start`);
  const torch = findTorch(opt.python);
  if (torch.python === null) {
    say(`- PyTorch: not found — ${torch.why}`);
    say('');
    say(`trajectory: SKIPPED — nothing was compared (exit status ${EXIT.skipped}, not a PASS)`);
    return EXIT.skipped;
  }
  say(`- PyTorch ${torch.version} (${torch.python}), one thread; simplex-vq's CPU backend, one thread`);
  say(`- the app's model and defaults (hidden 32, C = 32, M = 256, Adam lr 2e-3), methods ${opt.methods.join(', ')}; init 'data' done once in float32 on batch 1, output bias logit(mean pixel); ${opt.steps} steps of ${opt.batch} MNIST images (the app's Batcher, seed 0)`);
  say(`- rule: Δ = |ours − torch| / |torch| ≤ ${FACTOR} · E + floor, where E is the largest relative distance from torch's result of torch's own rounding variants (the same math on a permuted batch, or from weights moved by one ulp). A method PASSes when (1) same math: at steps ${stepList(opt)}, PyTorch's float64 loss and every gradient (max |Δg| / max |g|) from our float64 state agree with ours by the rule, E measured at that state, floor (n − 1)·2⁻⁵³ = ${e1(resyncFloor(opt.batch))} (plain-order sum of the batch's n = ${opt.batch * 784} pixels), and (2) float32 free runs: at every step t, Δ(t) ≤ ${FACTOR} · E(t) + ${FLOOR_ULPS} ulp, E(t) the running maximum of torch's float32 variants (${opt.ulps} from a one-ulp start, ${opt.perms} on permuted batches, its float64 run)`);
  say('');
  const result = await runTrajectory({ methods: opt.methods, steps: opt.steps, batch: opt.batch, python: torch.python, every: opt.every, ulps: opt.ulps, perms: opt.perms, ulps64: opt.ulps64, progress });
  for (const m of result.methods) {
    say(methodReport(m, result.resyncSteps, opt.steps));
    say('');
  }
  const torchTime = Object.values(result.torchSeconds).reduce((a, b) => a + b, 0);
  say(`- ${result.seconds.toFixed(0)} s in all (PyTorch's ${Object.keys(result.torchSeconds).length} runs ${torchTime.toFixed(0)} s, in parallel with ours); load average ${load()} at the end`);
  say('');
  const per = result.methods.map((m) => `${m.method} ${m.pass ? 'PASS' : 'FAIL'}`).join(', ');
  say(`trajectory: ${result.pass ? 'PASS' : 'FAIL'} (${per}) — ${opt.steps} steps of ${opt.batch} images; float64 loss and gradients from the same state at ${result.resyncSteps.length} steps and float32 loss curves, each within ${FACTOR}× PyTorch's own rounding`);
  writeFileSync(mdFile, `${out.join('\n')}\n`);
  writeFileSync(path.join(BENCH_DIR, 'results', 'trajectory-latest.json'), JSON.stringify({ ...result, report: mdFile }, null, 1));
  return result.pass ? EXIT.pass : EXIT.fail;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:trajectory: ${e instanceof Error ? e.message : String(e)}\n`);
    process.stdout.write('trajectory: FAIL — a run broke (see the message above)\n');
    process.exit(EXIT.fail);
  },
);
