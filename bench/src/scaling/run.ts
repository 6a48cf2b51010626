/**
 * bench:scaling — how the autoencoder's training step scales, in simplex-vq and in PyTorch:
 * step time against the batch size B, the codebook size M and the latent dimension C (one moved at
 * a time from the peer model: B = 32, M = 256, C = 32), and the KNN-CE regularizer's share of it.
 *
 * The step is the peer benchmark's (bench/src/peer: apps/autoencoder, method knn-ce, Adam; PyTorch's
 * twin bench/peer/torch_step.py), the model resized through the inputs file's config. For each
 * (M, C) simplex-vq writes an inputs file (weights, MNIST batches); every point and engine then runs
 * in a fresh child process: warm-up steps, then the median of the timed steps (wall), and the mean
 * CPU time of a timed step (every thread of the process: steadier than wall time on a shared
 * machine). Points run one after another with the engines interleaved, so that the engines of one
 * point see about the same machine.
 *
 * The KNN share is measured by timing the regularizer ALONE, not as the difference of two steps:
 * after its step, each child times the KNN-CE term (forward + backward; packages/vq's knnRegularizer
 * on log-probabilities, as the smoothed quantizer calls it, and the twin's
 * `-logp.topk(K, dim=0).values.mean()`) on a random [N, M] matrix of log-probabilities of the
 * step's size, N = B·49. Share = its time / the step's time.
 *
 * Writes scaling-latest.{md,json} and one PNG per axis for the step (step-<axis>.png) and for the
 * KNN term (knn-<axis>.png), log-log, to bench/results/scaling/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writePng } from '@simplex-vq/viz';
import { findTorch } from '../trajectory/torch.js';
import { isTorch, makeInputsFile, runEngineChild } from '../peer/child.js';
import { BENCH_DIR, MODEL, SHORT_LABEL, type EngineId, type EngineReport } from '../peer/common.js';
import {
  OptionError,
  loadAverage,
  machineLine,
  ms,
  nameList,
  nonNegativeNumber,
  positiveInt,
  positiveIntList,
  readOptions,
  reportWriter,
  table,
} from '../script-kit.js';
import { timeChart } from './chart.js';
import { AXES, AXIS_INFO, ROWS_PER_IMAGE, configKey, planSweeps, pointKey, type Axis, type Point } from './sweep.js';

const SCALING_ENGINES = ['ours-1', 'ours-pool', 'ours-gpujs', 'torch-1', 'torch-2'] as const satisfies readonly EngineId[];
type ScalingEngine = (typeof SCALING_ENGINES)[number];
const DEFAULT_ENGINES: ScalingEngine[] = ['ours-1', 'ours-pool', 'torch-1', 'torch-2'];
const LABEL: Record<ScalingEngine, string> = SHORT_LABEL;

/** The full run's lists and settings, and --quick's (two points per axis, two timed steps). */
const FULL = { batches: '16,32,64,128,256', codebookSizes: '64,256,1024,4096', dims: '3,32,128,512', baseBatch: '32', warmup: '10', steps: '5', minSeconds: '1' };
const QUICK = { batches: '8,16', codebookSizes: '64,256', dims: '3,32', baseBatch: '16', warmup: '1', steps: '2', minSeconds: '0' };

const HELP = `usage: node dist/scaling/run.js [options]   (npm run bench:scaling -w bench -- [options])

Step time of the discrete autoencoder's training step (method knn-ce, Adam; the model of bench:peer)
in simplex-vq and PyTorch against the batch size B, the codebook size M and the latent dimension C,
one at a time from B = ${FULL.baseBatch}, M = ${MODEL.codebookSize}, C = ${MODEL.dim}; and the share of the KNN-CE regularizer,
timed alone on an [N = B·49, M] input of the step's size. Wall and CPU time (all threads) per step:
the median of the timed steps after warm-up, each point and engine in a fresh process. Markdown
tables on stdout and in <out>/scaling-latest.md, the record in scaling-latest.json, log-log charts
step-<axis>.png and knn-<axis>.png. About 5 minutes on a quiet 2-core machine (--quick: ~1 minute).

Options:
  --axes <list>            from ${AXES.join(', ')} (default: all)
  --batches <list>         B of the batch sweep (default ${FULL.batches})
  --codebook-sizes <list>  M of the codebook sweep, at B = --base-batch (default ${FULL.codebookSizes})
  --dims <list>            C of the latent sweep, at B = --base-batch (default ${FULL.dims})
  --base-batch <n>         B of the codebook and latent sweeps (default ${FULL.baseBatch})
  --engines <list>         from ${SCALING_ENGINES.join(', ')} (default ${DEFAULT_ENGINES.join(',')})
  --warmup <n>             warm-up steps (default ${FULL.warmup})
  --steps <n>              timed steps, at least (default ${FULL.steps}; more, up to 50, within --min-seconds)
  --min-seconds <s>        keep timing a point until this many seconds (default ${FULL.minSeconds})
  --quick                  a smoke run: B ${QUICK.batches}, M ${QUICK.codebookSizes}, C ${QUICK.dims} at B = ${QUICK.baseBatch}, ${QUICK.warmup} warm-up and
                           ${QUICK.steps} timed steps (options given explicitly still apply)
  --python <exe>           the python with torch (default: $BENCH_TORCH_PYTHON, python3, then /usr/bin/python3)
  --out <dir>              where the report, the record, the charts and the inputs files go
                           (default bench/results/scaling)
  --json <file>            also write the JSON record to <file>
  --help                   this text

Exit status: 0 when every point ran, 1 when one failed, 2 for a bad option.
`;

const opt = readOptions('bench:scaling', HELP, {
  axes: { type: 'string' },
  batches: { type: 'string' },
  'codebook-sizes': { type: 'string' },
  dims: { type: 'string' },
  'base-batch': { type: 'string' },
  engines: { type: 'string' },
  warmup: { type: 'string' },
  steps: { type: 'string' },
  'min-seconds': { type: 'string' },
  quick: { type: 'boolean', default: false },
  python: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'string' },
}, (v) => {
  const d = v.quick ? QUICK : FULL;
  const str = (name: string, fallback: string) => (v[name] as string | undefined) ?? fallback;
  const warmup = Number(str('warmup', d.warmup));
  if (!Number.isInteger(warmup) || warmup < 0) throw new OptionError(`--warmup: expected an integer ≥ 0, got '${v.warmup as string}'`);
  return {
    quick: v.quick === true,
    axes: nameList('axes', str('axes', AXES.join(',')), AXES),
    batches: positiveIntList('batches', str('batches', d.batches)),
    codebookSizes: positiveIntList('codebook-sizes', str('codebook-sizes', d.codebookSizes)),
    dims: positiveIntList('dims', str('dims', d.dims)),
    baseBatch: positiveInt('base-batch', str('base-batch', d.baseBatch)),
    engines: nameList('engines', str('engines', DEFAULT_ENGINES.join(',')), SCALING_ENGINES),
    warmup,
    steps: positiveInt('steps', str('steps', d.steps)),
    minSeconds: nonNegativeNumber('min-seconds', str('min-seconds', d.minSeconds)),
    python: v.python as string | undefined,
    out: path.resolve(str('out', path.join(BENCH_DIR, 'results', 'scaling'))),
    json: v.json === undefined ? undefined : path.resolve(v.json as string),
  };
});

const progress = (msg: string) => process.stderr.write(`[scaling] ${msg}\n`);
const started = performance.now();
const dateStart = new Date();
const loadStart = os.loadavg();
mkdirSync(opt.out, { recursive: true });

const plan = planSweeps({ ...opt, baseCodebookSize: MODEL.codebookSize, baseDim: MODEL.dim });
const torch = opt.engines.some((e) => isTorch(e)) ? findTorch(opt.python) : null;
const torchSkip = torch && torch.python === null ? torch.why : null;
if (torchSkip) progress(`PyTorch skipped: ${torchSkip}`);
const engines = SCALING_ENGINES.filter((e) => opt.engines.includes(e) && !(isTorch(e) && torchSkip));
/** The sizes a sweep holds fixed. */
const fixedAt = (axis: Axis): string =>
  axis === 'batch' ? `M = ${MODEL.codebookSize}, C = ${MODEL.dim}` : axis === 'codebook' ? `B = ${opt.baseBatch}, C = ${MODEL.dim}` : `B = ${opt.baseBatch}, M = ${MODEL.codebookSize}`;

const KNN_METHOD = 'the KNN-CE term timed alone (forward + backward) on a random [N, M] matrix of log-probabilities of the step\'s size (N = B·49), in the same process after the step: packages/vq\'s knnRegularizer as the smoothed quantizer calls it, and the twin\'s -logp.topk(K, dim=0).values.mean(); share = its time / the step\'s time (not the difference of a step with and without it)';

const { say, lines } = reportWriter();
say('# Scaling: the autoencoder\'s training step against batch size, codebook size and latent dimension');
say();
say(`- date: ${dateStart.toISOString()}${opt.quick ? ' (--quick: a smoke run, not a measurement)' : ''}`);
say(`- machine: ${machineLine()}`);
say(`- load average at the start: ${loadAverage(loadStart)} (1/5/15 min; on ${os.availableParallelism()} cores, more than ~1 means other processes shared them: wall times grow, CPU times much less)`);
say(`- step: apps/autoencoder, method ${MODEL.method} (smoothed VQ, KNN-CE K = ${MODEL.k}, commitment ${MODEL.commitment}), hidden ${MODEL.hidden}, Adam lr ${MODEL.lr}: zero-grad, forward, backward, Adam, reading the loss; base point B = ${opt.baseBatch}, M = ${MODEL.codebookSize}, C = ${MODEL.dim}`);
say(`- timing: ${opt.warmup} warm-up step(s), then at least ${opt.steps} timed steps (more, up to 50, within ${opt.minSeconds} s); wall: their median; CPU: the mean CPU time of a timed step, every thread of the process; each point and engine in a fresh process`);
say(`- KNN share: ${KNN_METHOD}`);
say(`- PyTorch: ${torch === null ? 'not selected' : torch.python === null ? `skipped: ${torch.why}` : `${torch.version} (${torch.python})`}`);
say();

// --- inputs files: one per (M, C) ----------------------------------------------------------------

const inputsFile = new Map<string, string>();
for (const c of plan.configs) {
  const file = path.join(opt.out, `inputs-${configKey(c)}.safetensors`);
  progress(`writing the inputs file for M = ${c.codebookSize}, C = ${c.dim} (batches ${c.batches.join(', ')})`);
  const made = await makeInputsFile(file, c.batches, c.batches[0]!, c);
  if (!made.result) {
    process.stderr.write(`bench:scaling: could not write the inputs file for M = ${c.codebookSize}, C = ${c.dim}: ${made.error}\n`);
    process.exit(1);
  }
  inputsFile.set(configKey(c), file);
}

// --- the points ----------------------------------------------------------------------------------

type Result = EngineReport & { loadAtStart: number };
const results = new Map<string, Map<ScalingEngine, Result>>();
let done = 0;
const total = plan.points.length * engines.length;
for (const p of plan.points) {
  const at = new Map<ScalingEngine, Result>();
  results.set(pointKey(p), at);
  for (const e of engines) {
    const load = os.loadavg();
    progress(`[${++done}/${total}] B = ${p.batch}, M = ${p.codebookSize}, C = ${p.dim}: ${e} (load ${loadAverage(load)})`);
    const args = [
      '--inputs', inputsFile.get(configKey(p))!, '--batch', String(p.batch),
      '--warmup', String(opt.warmup), '--steps', String(opt.steps), '--min-seconds', String(opt.minSeconds), '--knn-alone',
    ];
    const r = await runEngineChild(e, torch?.python ?? null, args, 15 * 60_000, p.batch);
    if (!r.error && (!r.timing || !r.knn)) r.error = 'the child reported no timing';
    at.set(e, { ...r, loadAtStart: load[0]! });
  }
}

// --- tables --------------------------------------------------------------------------------------

const get = (p: Point, e: ScalingEngine) => results.get(pointKey(p))?.get(e);
const wall = (r: Result | undefined) => r?.timing?.medianMs ?? NaN;
const cpu = (r: Result | undefined) => r?.timing?.cpuMsPerStep ?? NaN;
const knnWall = (r: Result | undefined) => r?.knn?.timing.medianMs ?? NaN;
const knnCpu = (r: Result | undefined) => r?.knn?.timing.cpuMsPerStep ?? NaN;
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%` : '–');
const num = (v: number) => (Number.isFinite(v) ? ms(v) : '–');
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const torchEngines = engines.filter((e) => isTorch(e));
/** PyTorch's faster configuration at a point, by one measure (NaN without PyTorch). */
const bestTorch = (p: Point, measure: (r: Result | undefined) => number) => Math.min(...torchEngines.map((e) => measure(get(p, e))).filter(Number.isFinite));

say('In each table: wall = median ms a step; CPU = mean CPU ms a step (all threads); "÷ PyTorch" = this engine\'s time over PyTorch\'s faster configuration at that point (wall / CPU; < 1 is faster);');
say('KNN-CE = the regularizer alone (wall / CPU ms) and its share of the step (wall / CPU); first loss = the loss of the first warm-up step, the same start in every engine (it must agree: the same work); load = the 1-minute load average when the process started.');
say();
const mismatches: string[] = [];
for (const s of plan.sweeps) {
  const info = AXIS_INFO[s.axis];
  say(`## Against the ${info.name}, at ${fixedAt(s.axis)}`);
  say();
  const rows: string[][] = [];
  for (const { value, point } of s.points) {
    const bestWall = bestTorch(point, wall), bestCpu = bestTorch(point, cpu);
    const reference = engines.map((e) => get(point, e)?.firstLoss).find((l) => typeof l === 'number');
    for (const e of engines) {
      const r = get(point, e);
      const first = r?.firstLoss;
      if (typeof first === 'number' && typeof reference === 'number' && Math.abs(first - reference) > 1e-4 * Math.abs(reference)) {
        mismatches.push(`${info.symbol} = ${value}: ${LABEL[e]} ${first} against ${reference}`);
      }
      rows.push([
        String(value),
        `${point.batch * ROWS_PER_IMAGE} × ${point.codebookSize}`,
        LABEL[e],
        r?.timing ? `${num(wall(r))} (${r.timing.runs})` : 'error (below)',
        num(cpu(r)),
        torchEngines.length ? `${times(wall(r) / bestWall)} / ${times(cpu(r) / bestCpu)}` : '–',
        `${num(knnWall(r))} / ${num(knnCpu(r))}`,
        `${pct(knnWall(r) / wall(r))} / ${pct(knnCpu(r) / cpu(r))}`,
        typeof first === 'number' ? first.toPrecision(7) : '–',
        r ? r.loadAtStart.toFixed(1) : '–',
      ]);
    }
  }
  say(table(
    [info.symbol, 'N × M', 'engine', 'wall ms (n)', 'CPU ms', '÷ PyTorch (wall / CPU)', 'KNN-CE ms (wall / CPU)', 'KNN-CE share (wall / CPU)', 'first loss', 'load'],
    rows,
    ['r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ));
  say();
  say(`Charts: ${path.join(opt.out, `step-${info.file}.png`)}, ${path.join(opt.out, `knn-${info.file}.png`)}`);
  say();
}
const errors = [...results.entries()].flatMap(([key, at]) => [...at.entries()].filter(([, r]) => r.error).map(([e, r]) => `- ${key}, ${LABEL[e]}: ${r.error}`));
if (errors.length) say(`Errors:\n\n${errors.join('\n')}\n`);
if (torchSkip) say(`PyTorch: skipped: ${torchSkip}\n`);
say(mismatches.length === 0
  ? 'First-step losses: every engine agrees at every point (within 1e-4, relative).'
  : `First-step losses DIFFER (more than 1e-4, relative) — the engines did not do the same work there:\n\n${mismatches.map((m) => `- ${m}`).join('\n')}`);
say();

// --- charts --------------------------------------------------------------------------------------

const charts: string[] = [];
const loadEndCharts = os.loadavg();
for (const s of plan.sweeps) {
  const info = AXIS_INFO[s.axis];
  const x = s.points.map((q) => q.value);
  const subtitleBase = [
    `${fixedAt(s.axis)}; median of the timed steps; solid: wall time, dashed: CPU time (all threads)`,
    `${dateStart.toISOString().slice(0, 16).replace('T', ' ')} UTC; 1-minute load average ${loadStart[0]!.toFixed(1)} at the start, ${loadEndCharts[0]!.toFixed(1)} at the end${opt.quick ? '; --quick: a smoke run' : ''}`,
  ];
  const series = (measure: { wall: (r: Result | undefined) => number; cpu: (r: Result | undefined) => number }) =>
    engines.map((e) => ({ engine: LABEL[e], x, wallMs: s.points.map((q) => measure.wall(get(q.point, e))), cpuMs: s.points.map((q) => measure.cpu(get(q.point, e))) }));
  for (const [kind, title, yLabel, measure] of [
    ['step', `Training step time against ${info.name}`, 'ms per step', { wall, cpu }],
    ['knn', `KNN-CE regularizer alone (forward + backward) against ${info.name}`, 'ms per call', { wall: knnWall, cpu: knnCpu }],
  ] as const) {
    const file = path.join(opt.out, `${kind}-${info.file}.png`);
    try {
      await writePng(file, await timeChart({ title, subtitle: subtitleBase, xLabel: `${info.name}, log scale`, yLabel: `${yLabel}, log scale`, series: series(measure) }));
      charts.push(file);
    } catch (e) {
      errors.push(`- chart ${file}: ${e instanceof Error ? e.message : String(e)}`);
      say(`Chart ${file} not drawn: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

const loadEnd = os.loadavg();
say(`Load average at the end: ${loadAverage(loadEnd)}. Date at the end: ${new Date().toISOString()}. Total time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);

const json = {
  date: dateStart.toISOString(),
  dateEnd: new Date().toISOString(),
  quick: opt.quick,
  machine: { cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, totalMemBytes: os.totalmem() },
  node: process.version,
  torch: torch && torch.python ? { version: torch.version, python: torch.python } : null,
  torchSkipped: torchSkip,
  model: MODEL,
  options: { ...opt, engines },
  knnMethod: KNN_METHOD,
  loadAverage: { start: loadStart, end: loadEnd },
  sweeps: plan.sweeps.map((s) => ({
    axis: s.axis,
    points: s.points.map(({ value, point }) => ({
      value,
      ...point,
      rows: point.batch * ROWS_PER_IMAGE,
      results: Object.fromEntries(engines.map((e) => [e, get(point, e) ?? null])),
    })),
  })),
  firstLossMismatches: mismatches,
  charts,
  errors,
  totalSeconds: (performance.now() - started) / 1000,
};
writeFileSync(path.join(opt.out, 'scaling-latest.json'), `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(path.join(opt.out, 'scaling-latest.md'), `${lines.join('\n')}\n`);
if (opt.json) writeFileSync(opt.json, `${JSON.stringify(json, null, 2)}\n`);
progress(`wrote ${path.join(opt.out, 'scaling-latest.md')}, .json and ${charts.length} charts`);
process.exit(errors.length > 0 || mismatches.length > 0 ? 1 : 0);
