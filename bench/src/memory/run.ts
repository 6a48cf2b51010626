/**
 * bench:memory — the resident memory of a training run of the discrete autoencoder, simplex-vq
 * against PyTorch (issue 15's target: "peak RSS of a 1,000-step run no more than PyTorch's for the
 * same run").
 *
 * The run is the peer benchmark's step (bench/src/peer: apps/autoencoder, method knn-ce, Adam;
 * PyTorch's twin bench/peer/torch_step.py) repeated --steps times on one MNIST batch of --batch
 * images, from the same weights. Every engine runs in a fresh process of its own, so each figure is
 * that engine's alone: the process's resident memory (VmRSS) after its libraries are loaded, after
 * the first step (runtime + model + Adam's state: the fixed cost), along the run and at its end,
 * and its high-water mark (VmHWM, the peak). Peak minus the RSS after the first step is what the
 * training run itself added.
 *
 * One batch for every step: the figures are the engines' own memory, not a data pipeline's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findTorch } from '../trajectory/torch.js';
import { isTorch, makeInputsFile, runEngineChild } from '../peer/child.js';
import { BENCH_DIR, MODEL, type EngineId, type EngineReport } from '../peer/common.js';
import { loadAverage, machineLine, nameList, positiveInt, readOptions, reportWriter, table } from '../script-kit.js';

/** The engines a long run is reasonable for (tfjs-backend-cpu takes seconds a step). */
const MEMORY_ENGINES = ['ours-1', 'ours-pool', 'ours-gpujs', 'torch-1', 'torch-2'] as const satisfies readonly EngineId[];
type MemoryEngine = (typeof MEMORY_ENGINES)[number];
const DEFAULT_ENGINES: MemoryEngine[] = ['ours-1', 'ours-pool', 'torch-1', 'torch-2'];
/** The run the issue's target is about. */
const TARGET_STEPS = 1000;

const LABEL: Record<MemoryEngine, string> = {
  'ours-1': 'simplex-vq cpu, 1 thread',
  'ours-pool': 'simplex-vq cpu, pool',
  'ours-gpujs': 'simplex-vq gpujs',
  'torch-1': 'PyTorch, 1 thread',
  'torch-2': 'PyTorch, 2 threads',
};

/** The comparisons of the target: each simplex-vq configuration against PyTorch with as many threads. */
const PAIRS: Array<[MemoryEngine, MemoryEngine]> = [
  ['ours-1', 'torch-1'],
  ['ours-pool', 'torch-2'],
];

const HELP = `usage: node dist/memory/run.js [options]   (npm run bench:memory -w bench -- [options])

Peak resident memory (RSS) of a training run of the discrete autoencoder (method knn-ce, Adam;
the model and step of bench:peer) in simplex-vq and in PyTorch, each engine in a fresh process:
RSS after loading, after the first step (runtime + model), along the run and at its end, and the
peak (VmHWM). Prints a markdown table and the target of issue 15 (simplex-vq's peak ≤ PyTorch's,
one thread against one thread, the pool against two threads) as PASS or FAIL — informational:
the exit code is 0 either way. About 16 minutes for the default 1,000 steps on a quiet 2-core machine (954 s measured).

Options:
  --steps <n>        training steps of each run (default ${TARGET_STEPS}, the target's run)
  --batch <n>        images in the batch (default 64; 49 latent rows each)
  --engines <list>   from ${MEMORY_ENGINES.join(', ')} (default ${DEFAULT_ENGINES.join(',')})
  --python <exe>     the python with torch (default: $BENCH_TORCH_PYTHON, python3, then /usr/bin/python3)
  --out <dir>        where memory-latest.{md,json} and the inputs file go (default bench/results)
  --json <file>      also write the JSON record to <file>
  --help             this text

Exit status: 0 when every run finished (whatever the target says), 1 when a run failed,
2 for a bad option.
`;

const opt = readOptions('bench:memory', HELP, {
  steps: { type: 'string', default: String(TARGET_STEPS) },
  batch: { type: 'string', default: '64' },
  engines: { type: 'string', default: DEFAULT_ENGINES.join(',') },
  python: { type: 'string' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'results') },
  json: { type: 'string' },
}, (v) => ({
  steps: positiveInt('steps', v.steps as string),
  batch: positiveInt('batch', v.batch as string),
  engines: nameList('engines', v.engines as string, MEMORY_ENGINES),
  python: v.python as string | undefined,
  out: path.resolve(v.out as string),
  json: v.json === undefined ? undefined : path.resolve(v.json as string),
}));

const progress = (msg: string) => process.stderr.write(`[memory] ${msg}\n`);
const started = performance.now();
const loadStart = os.loadavg();
const dateStart = new Date();
mkdirSync(opt.out, { recursive: true });
const inputsFile = path.join(opt.out, 'memory-inputs.safetensors');

const torch = opt.engines.some((e) => isTorch(e)) ? findTorch(opt.python) : null;
const torchSkip = torch && torch.python === null ? torch.why : null;
if (torchSkip) progress(`PyTorch skipped: ${torchSkip}`);
const engines = MEMORY_ENGINES.filter((e) => opt.engines.includes(e) && !(isTorch(e) && torchSkip));

const { say, lines } = reportWriter();
say('# Memory: resident memory of a training run of the discrete autoencoder');
say();
say(`- date: ${dateStart.toISOString()}`);
say(`- machine: ${machineLine()}`);
say(`- load average at the start: ${loadAverage(loadStart)} (1/5/15 min; memory figures hardly depend on load, unlike times)`);
say(`- run: ${opt.steps} training steps (zero-grad, forward, backward, Adam, reading the loss) on one MNIST batch of ${opt.batch} images`);
say(`- model: apps/autoencoder, method ${MODEL.method} (smoothed VQ, KNN-CE K = ${MODEL.k}), M = ${MODEL.codebookSize}, C = ${MODEL.dim}, hidden ${MODEL.hidden}; Adam lr ${MODEL.lr}; the same start in every engine`);
say(`- PyTorch: ${torch === null ? 'not selected' : torch.python === null ? `skipped: ${torch.why}` : `${torch.version} (${torch.python})`}`);
say();

// The inputs file of the peer benchmark (weights, the batch, a reference step) for this batch size.
progress('writing the inputs file (simplex-vq: initial weights and the batch)');
const made = await makeInputsFile(inputsFile, [opt.batch], opt.batch);
if (!made.result) {
  process.stderr.write(`bench:memory: could not write the inputs file: ${made.error}\n`);
  process.exit(1);
}

// Generous: a step at batch 64 takes 0.2–0.3 s on a quiet machine, several times that under load.
const timeoutMs = Math.max(10 * 60_000, opt.steps * 5_000);
const reports: Array<EngineReport & { loadAtStart: number }> = [];
for (const e of engines) {
  const load = os.loadavg();
  progress(`${e}: ${opt.steps} steps at batch ${opt.batch} (load ${loadAverage(load)})`);
  const r = await runEngineChild(e, torch?.python ?? null, ['--inputs', inputsFile, '--batch', String(opt.batch), '--memory-steps', String(opt.steps)], timeoutMs, opt.batch);
  if (!r.error && !r.memory) r.error = 'the child reported no memory figures';
  reports.push({ ...r, loadAtStart: load[0]! });
}

const mb = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(0));
const label = (e: EngineId) => LABEL[e as MemoryEngine] ?? e;
say(`## Resident memory (MB = 2^20 bytes), ${opt.steps} steps at batch ${opt.batch}`);
say();
say('loaded: after the engine\'s libraries and the inputs file, before the model. after step 1: runtime + model + Adam\'s state (the fixed cost).');
say('peak: the process\'s high-water mark (VmHWM) over the whole run, the first step included. growth: peak − after step 1, what training added.');
say('load: the 1-minute load average when the engine\'s process started.');
say();
say(table(
  ['engine', 'runs on', 'loaded', 'after step 1', 'peak after step 1', 'at the end', 'peak', 'growth', 'steps/s', 'CPU s', 'loss: first → last', 'load'],
  reports.map((r) => {
    const m = r.memory;
    return [
      label(r.engine), r.describe,
      mb(m?.rssLoadedMb), mb(m?.rssAfterFirstMb), mb(m?.peakAfterFirstMb), mb(m?.rssEndMb), m ? mb(m.peakRssMb) : r.error ? 'error (below)' : '–',
      m ? `+${(m.peakRssMb - m.rssAfterFirstMb).toFixed(0)}` : '–',
      m ? (m.steps / m.seconds).toFixed(2) : '–', m ? m.cpuSeconds.toFixed(0) : '–',
      m && r.firstLoss !== null ? `${r.firstLoss.toFixed(4)} → ${m.lastLoss.toFixed(4)}` : '–',
      r.loadAtStart.toFixed(1),
    ];
  }),
  ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
));
const errors = reports.filter((r) => r.error).map((r) => `- ${label(r.engine)}: ${r.error}`);
if (errors.length) say(`\n${errors.join('\n')}`);
if (torchSkip) say(`\n- PyTorch: skipped: ${torchSkip}`);
say();

// RSS along the run: every engine read it after the same steps.
const withCurve = reports.filter((r) => r.memory);
if (withCurve.length) {
  const marks = withCurve[0]!.memory!.rssCurve.map(([s]) => s);
  say('RSS along the run (MB, after the step named):');
  say();
  say(table(
    ['engine', ...marks.map(String)],
    withCurve.map((r) => [label(r.engine), ...marks.map((s) => mb(r.memory!.rssCurve.find(([t]) => t === s)?.[1]))]),
    ['l', ...marks.map(() => 'r' as const)],
  ));
  say();
}

// The target of issue 15 (informational: reported, never turned into an exit code).
const find = (e: MemoryEngine) => reports.find((r) => r.engine === e && r.memory);
const verdicts: Array<{ ours: MemoryEngine; torch: MemoryEngine; oursPeakMb: number; torchPeakMb: number; pass: boolean }> = [];
say(`Target (issue 15): peak RSS of a ${TARGET_STEPS.toLocaleString('en')}-step run no more than PyTorch's for the same run (informational: the exit code does not depend on it).`);
say();
for (const [o, t] of PAIRS) {
  if (!opt.engines.includes(o) || !opt.engines.includes(t)) continue;
  const ro = find(o), rt = find(t);
  if (!ro || !rt) {
    say(`- ${LABEL[o]} against ${LABEL[t]}: not judged (${!ro ? `${LABEL[o]} did not finish` : torchSkip ? 'PyTorch was skipped' : `${LABEL[t]} did not finish`})`);
    continue;
  }
  const pass = ro.memory!.peakRssMb <= rt.memory!.peakRssMb;
  verdicts.push({ ours: o, torch: t, oursPeakMb: ro.memory!.peakRssMb, torchPeakMb: rt.memory!.peakRssMb, pass });
  const ratio = ro.memory!.peakRssMb / rt.memory!.peakRssMb;
  say(`- ${LABEL[o]} ${mb(ro.memory!.peakRssMb)} MB against ${LABEL[t]} ${mb(rt.memory!.peakRssMb)} MB (${ratio.toFixed(2)}× PyTorch's): ${pass ? 'PASS' : 'FAIL'}`);
}
const overall = verdicts.length === 0 ? 'NOT JUDGED' : verdicts.every((v) => v.pass) ? 'PASS' : 'FAIL';
say();
say(`Memory target: ${overall}${opt.steps !== TARGET_STEPS && verdicts.length ? ` (on a ${opt.steps}-step run; the target is about ${TARGET_STEPS} steps)` : ''} — informational, exit code 0 either way.`);
say();
const loadEnd = os.loadavg();
say(`Load average at the end: ${loadAverage(loadEnd)}. Date at the end: ${new Date().toISOString()}. Total time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);

const json = {
  date: dateStart.toISOString(),
  dateEnd: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, totalMemBytes: os.totalmem() },
  node: process.version,
  torch: torch && torch.python ? { version: torch.version, python: torch.python } : null,
  torchSkipped: torchSkip,
  model: MODEL,
  options: { steps: opt.steps, batch: opt.batch, engines: opt.engines },
  loadAverage: { start: loadStart, end: loadEnd },
  results: reports,
  target: { steps: TARGET_STEPS, verdicts, overall },
  totalSeconds: (performance.now() - started) / 1000,
};
writeFileSync(path.join(opt.out, 'memory-latest.json'), `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(path.join(opt.out, 'memory-latest.md'), `${lines.join('\n')}\n`);
if (opt.json) writeFileSync(opt.json, `${JSON.stringify(json, null, 2)}\n`);
progress(`wrote ${path.join(opt.out, 'memory-latest.md')} and .json`);
process.exit(reports.some((r) => r.error) ? 1 : 0);
