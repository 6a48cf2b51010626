/**
 * The peer benchmark: one training step of the discrete autoencoder (apps/autoencoder, method
 * knn-ce, Adam) on simplex-vq's backends, TensorFlow.js and PyTorch, after proving they do the same work.
 *
 *   1. Inputs: simplex-vq builds the model (seed 0) and writes its initial weights, one MNIST batch
 *      per batch size, and a reference step on the check batch to bench/results/peer-inputs.safetensors.
 *   2. Equivalence check: every engine loads those weights, runs one step on the check batch and
 *      compares the loss (relative error ≤ 1e-4), the gradients and the weights after Adam's update
 *      (≤ 1e-3) with the reference. PASS or FAIL per engine; any FAIL stops the run (exit 1) before
 *      anything is timed. An engine that cannot run the backward pass (tfjs-backend-wasm) is shown
 *      as unable, with its error, after its forward loss is checked.
 *   3. Timing: each engine and batch size in its own child process (so each peak RSS is its own):
 *      warm-up steps, then the median of at least --steps timed steps (forward, backward, Adam,
 *      reading the loss back). tfjs-backend-cpu takes seconds a step, so it gets one warm-up step
 *      and exactly --steps timed steps.
 *   4. A markdown table (stdout, and bench/results/peer-latest.md + .json): median ms a step,
 *      steps/s, peak RSS, speed relative to tfjs-backend-cpu and to PyTorch with 2 threads.
 *
 * PyTorch runs bench/peer/torch_step.py with the first python that can `import torch`
 * (python3, then /usr/bin/python3: Debian's python3-torch); without one it is skipped, with a message.
 *
 * Usage: node dist/peer/run.js [--batches 16,64] [--steps 5] [--warmup 2] [--min-seconds 3]
 *          [--engines a,b,...] [--check-batch 16] [--check-only] [--quick] [--python <exe>]
 *          [--out <dir>] [--json <file>] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { findTorch } from '../trajectory/torch.js';
import { makeInputsFile, runEngineChild } from './child.js';
import {
  AFTER_TOL,
  BENCH_DIR,
  ENGINES,
  GRAD_TOL,
  LOSS_TOL,
  MODEL,
  isEngine,
  type EngineId,
  type EngineReport,
} from './common.js';

const HELP = `usage: node dist/peer/run.js [options]   (npm run bench:peer -w bench -- [options])

One training step of the discrete autoencoder (method knn-ce, Adam) on simplex-vq, TensorFlow.js
and PyTorch: an equivalence check, then the timing. Options:
  --batches <list>   batch sizes to time (default 16,64)
  --steps <n>        timed steps per engine and batch, at least (default 5; fast engines run more,
                     up to 50, within --min-seconds)
  --warmup <n>       warm-up steps (default 2; tfjs-backend-cpu always 1)
  --min-seconds <s>  keep timing fast engines until this many seconds (default 3)
  --slow-batches <list>  batch sizes at which tfjs-cpu (seconds a step) is timed (default: all
                     of --batches; npm run bench passes 16 to stay within 10 minutes)
  --engines <list>   engines, from ${ENGINES.join(', ')} (default: all)
  --check-batch <n>  batch size of the equivalence check (default 16)
  --check-only       run the equivalence check and stop
  --python <exe>     the python with torch (default: python3, then /usr/bin/python3)
  --quick            batch 16 only, 1 warm-up step, fast engines timed for 1 s (still ≥ --steps)
  --out <dir>        where to write peer-latest.{md,json} and the inputs file (default bench/results)
  --json <file>      also write the JSON record to <file>
  --help             this text
`;

const { values: opt } = parseArgs({
  options: {
    batches: { type: 'string', default: '16,64' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    'min-seconds': { type: 'string', default: '3' },
    engines: { type: 'string', default: ENGINES.join(',') },
    'slow-batches': { type: 'string' },
    'check-batch': { type: 'string', default: '16' },
    'check-only': { type: 'boolean', default: false },
    python: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH_DIR, 'results') },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`bench:peer: ${message}\n\n${HELP}`);
  process.exit(2);
}

if (opt.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positiveInt = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: expected a positive integer, got '${v}'`);
  return n;
};
if (opt.quick) {
  // Only where the option was not given explicitly (parseArgs fills in defaults, so compare).
  if (!process.argv.some((a) => a.startsWith('--batches'))) opt.batches = '16';
  if (!process.argv.some((a) => a.startsWith('--warmup'))) opt.warmup = '1';
  if (!process.argv.some((a) => a.startsWith('--min-seconds'))) opt['min-seconds'] = '1';
}
const batches = opt.batches!.split(',').map((b) => positiveInt('batches', b.trim()));
const slowBatches = opt['slow-batches'] === undefined ? batches : opt['slow-batches'].split(',').map((b) => positiveInt('slow-batches', b.trim()));
const steps = positiveInt('steps', opt.steps!);
const warmup = Number(opt.warmup);
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup: expected an integer ≥ 0, got '${opt.warmup}'`);
const minSeconds = Number(opt['min-seconds']);
if (!(minSeconds >= 0)) fail(`--min-seconds: expected a number ≥ 0, got '${opt['min-seconds']}'`);
const checkBatch = positiveInt('check-batch', opt['check-batch']!);
const engines = opt.engines!.split(',').map((e) => e.trim()).filter(Boolean);
for (const e of engines) if (!isEngine(e)) fail(`--engines: unknown engine '${e}'; choose from ${ENGINES.join(', ')}`);
const selected = ENGINES.filter((e) => engines.includes(e));
const outDir = path.resolve(opt.out!);
mkdirSync(outDir, { recursive: true });
const inputsFile = path.join(outDir, 'peer-inputs.safetensors');

const progress = (msg: string) => process.stderr.write(`[peer] ${msg}\n`);
const started = performance.now();
const loadStart = os.loadavg();
const fmtLoad = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');

// --- PyTorch -------------------------------------------------------------------------------------

const torch = selected.some((e) => e.startsWith('torch')) ? findTorch(opt.python) : null;
const torchSkip = torch && torch.python === null ? torch.why : null;
if (torchSkip) process.stderr.write(`[peer] PyTorch skipped: ${torchSkip}\n`);
const runnable = selected.filter((e) => !(e.startsWith('torch') && torchSkip));

// --- children ------------------------------------------------------------------------------------

const CHILD_TIMEOUT_MS = 15 * 60_000;

async function runEngine(engine: EngineId, mode: { check: true } | { check: false; batch: number }): Promise<EngineReport> {
  const common = ['--inputs', inputsFile];
  const timing = mode.check
    ? ['--check']
    : [
        '--batch', String(mode.batch),
        '--warmup', String(engine === 'tfjs-cpu' ? Math.min(warmup, 1) : warmup),
        '--steps', String(steps),
        '--min-seconds', String(engine === 'tfjs-cpu' ? 0 : minSeconds),
      ];
  return runEngineChild(engine, torch?.python ?? null, [...common, ...timing], CHILD_TIMEOUT_MS, mode.check ? checkBatch : mode.batch);
}

// --- tables --------------------------------------------------------------------------------------

function table(headers: string[], rows: string[][], align: Array<'l' | 'r'> = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (c: string, i: number) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

const exp = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v === 0 ? '0' : v.toExponential(1));
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

const LABEL: Record<EngineId, string> = {
  'ours-1': 'simplex-vq cpu, 1 thread',
  'ours-pool': 'simplex-vq cpu, pool',
  'ours-gpujs': 'simplex-vq gpujs',
  'tfjs-cpu': 'tfjs-backend-cpu',
  'tfjs-wasm': 'tfjs-backend-wasm',
  'torch-1': 'PyTorch, 1 thread',
  'torch-2': 'PyTorch, 2 threads',
};

type Verdict = 'PASS' | 'FAIL' | 'UNABLE';

function verdict(r: EngineReport): Verdict {
  const c = r.check;
  if (!c) return 'FAIL';
  const lossOk = c.lossRelErr <= LOSS_TOL && c.partsRelErr <= LOSS_TOL;
  if (c.backwardError) return lossOk ? 'UNABLE' : 'FAIL';
  return lossOk && (c.gradRelErr ?? Infinity) <= GRAD_TOL && (c.afterRelErr ?? Infinity) <= AFTER_TOL ? 'PASS' : 'FAIL';
}

// --- run -----------------------------------------------------------------------------------------

const out: string[] = [];
const say = (line = '') => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};
const cpus = os.cpus();
say('# Peer benchmark: one training step of the discrete autoencoder');
say();
say(`- date: ${new Date().toISOString()}`);
say(`- machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}`);
say(`- load average at the start: ${fmtLoad(loadStart)} (1/5/15 min; on ${os.availableParallelism()} cores, more than ~1 means other processes shared them and slowed the figures)`);
say(`- model: apps/autoencoder, method ${MODEL.method} (smoothed VQ, KNN-CE K = ${MODEL.k}, commitment ${MODEL.commitment}), M = ${MODEL.codebookSize}, C = ${MODEL.dim}, hidden ${MODEL.hidden}; Adam lr ${MODEL.lr}; MNIST batches`);
say(`- PyTorch: ${torch === null ? 'not selected' : torch.python === null ? `skipped: ${torch.why}` : `${torch.version} (${torch.python})`}`);
say();

progress('writing the inputs file (simplex-vq: initial weights, batches, the reference step)');
const made = await makeInputsFile(inputsFile, batches, checkBatch, null, CHILD_TIMEOUT_MS);
if (!made.result) {
  process.stderr.write(`bench:peer: could not write the inputs file: ${made.error}\n`);
  process.exit(1);
}

say(`## Equivalence check (batch ${checkBatch}, one step from the same weights and batch)`);
say();
say(`Reference: simplex-vq cpu, 1 thread, loss ${(made.result as { loss: number }).loss.toFixed(6)}. PASS needs the loss and each of its parts within ${LOSS_TOL} (relative),`);
say(`the gradients and the weights after one Adam step within ${GRAD_TOL} (max |Δ| / max |ref|, worst parameter shown).`);
say();
const checks: EngineReport[] = [];
for (const e of runnable) {
  progress(`check: ${e}`);
  checks.push(await runEngine(e, { check: true }));
}
const verdicts = new Map(checks.map((r) => [r.engine, verdict(r)]));
say(table(
  ['engine', 'loss', 'recon', 'commitment', 'knn', 'loss rel. err', 'worst part', 'grad rel. err (worst)', 'weights after Adam (worst)', 'result'],
  checks.map((r) => {
    const c = r.check;
    const v = verdicts.get(r.engine)!;
    return [
      LABEL[r.engine],
      c ? c.loss.toFixed(6) : '–', c ? c.recon.toFixed(6) : '–', c ? c.commitment.toFixed(6) : '–', c ? c.knn.toFixed(6) : '–',
      c ? exp(c.lossRelErr) : '–',
      c ? exp(c.partsRelErr) : '–',
      c?.gradRelErr !== null && c?.gradRelErr !== undefined ? `${exp(c.gradRelErr)} (${c.gradWorst})` : '–',
      c?.afterRelErr !== null && c?.afterRelErr !== undefined ? `${exp(c.afterRelErr)} (${c.afterWorst})` : '–',
      v === 'UNABLE' ? 'UNABLE (forward PASS, no backward)' : v,
    ];
  }),
));
const notes = checks.filter((r) => r.error || r.check?.backwardError).map((r) => `- ${LABEL[r.engine]}: ${r.error ?? `backward: ${r.check!.backwardError}`}`);
if (torchSkip) notes.push(`- PyTorch: skipped: ${torchSkip}`);
if (notes.length) say(`\n${notes.join('\n')}`);
const failed = checks.filter((r) => verdicts.get(r.engine) === 'FAIL');
say();
say(failed.length === 0 ? `Equivalence check: PASS (${checks.length} engine${checks.length === 1 ? '' : 's'})` : `Equivalence check: FAIL (${failed.map((r) => LABEL[r.engine]).join(', ')}): nothing is timed.`);
say();

const json: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpu: cpus[0]?.model ?? null, cores: cpus.length, totalMemBytes: os.totalmem() },
  node: process.version,
  torch: torch && torch.python ? torch.version : null,
  model: MODEL,
  options: { batches, slowBatches, steps, warmup, minSeconds, engines: selected, checkBatch },
  loadAverage: { start: loadStart },
  checks,
};
const save = () => {
  json.loadAverage = { start: loadStart, end: os.loadavg() };
  json.totalSeconds = (performance.now() - started) / 1000;
  writeFileSync(path.join(outDir, 'peer-latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'peer-latest.md'), `${out.join('\n')}\n`);
  if (opt.json) writeFileSync(path.resolve(opt.json), `${JSON.stringify(json, null, 2)}\n`);
  progress(`wrote ${path.join(outDir, 'peer-latest.md')} and .json`);
};

if (failed.length > 0) {
  save();
  process.exit(1);
}
if (opt['check-only']) {
  save();
  process.exit(0);
}

const reports: EngineReport[] = [];
/** The 1-minute load average when each timing child started. */
const loadAt = new Map<EngineReport, number>();
const skippedSlow: number[] = [];
for (const batch of batches) {
  for (const e of runnable) {
    if (e === 'tfjs-cpu' && !slowBatches.includes(batch)) {
      skippedSlow.push(batch);
      continue;
    }
    // An engine unable to train is not timed; its row shows the error of the check.
    const check = checks.find((r) => r.engine === e)!;
    if (verdicts.get(e) === 'UNABLE') {
      reports.push({ ...check, batch, error: `unable to train: ${check.check!.backwardError}`, timing: null, peakRssMb: null });
      continue;
    }
    const load = os.loadavg();
    progress(`time: ${e}, batch ${batch} (load ${fmtLoad(load)})`);
    const r = await runEngine(e, { check: false, batch });
    loadAt.set(r, load[0]!);
    reports.push(r);
  }
}
json.results = reports.map((r) => ({ ...r, loadAtStart: loadAt.get(r) ?? null }));

const find = (engine: EngineId, batch: number) => reports.find((r) => r.engine === engine && r.batch === batch);
const speedup = (r: EngineReport, ref: EngineReport | undefined) =>
  r.timing && ref?.timing ? `${(ref.timing.medianMs / r.timing.medianMs).toFixed(2)}×` : 'n/a';
say('## Training step (forward, backward, Adam update)');
say();
say(`Median of the timed steps (n) after warm-up (tfjs-backend-cpu: 1 warm-up step); each engine and batch in its own process.`);
say('"vs" columns: how many times faster than that engine (its median / this one; > 1 is faster). Peak RSS: the process high-water mark.');
say('CPU ms: the CPU time of a timed step (mean; every thread of the process), steadier than wall time on a busy machine.');
say('load: the 1-minute load average when the engine\'s process started (2 cores: above ~1 the engine shared them).');
say();
say(table(
  ['engine', 'runs on', 'batch', 'median ms (n)', 'steps/s', 'CPU ms', 'peak RSS MB', 'vs tfjs-cpu', 'vs PyTorch 2 thr.', 'load'],
  reports.map((r) => [
    LABEL[r.engine],
    r.describe,
    String(r.batch),
    r.timing ? `${ms(r.timing.medianMs)} (${r.timing.runs})` : r.error?.startsWith('unable') ? 'unable (below)' : 'error (below)',
    r.timing ? (1000 / r.timing.medianMs).toFixed(r.timing.medianMs > 1000 ? 3 : 2) : '–',
    r.timing?.cpuMsPerStep !== undefined ? ms(r.timing.cpuMsPerStep) : '–',
    r.peakRssMb !== null ? r.peakRssMb.toFixed(0) : '–',
    speedup(r, find('tfjs-cpu', r.batch)),
    speedup(r, find('torch-2', r.batch)),
    loadAt.has(r) ? loadAt.get(r)!.toFixed(1) : '–',
  ]),
  ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
));
const errors = reports.filter((r) => r.error).map((r) => `- ${LABEL[r.engine]}, batch ${r.batch}: ${r.error}`);
if (errors.length) say(`\n${[...new Set(errors)].join('\n')}`);
if (torchSkip) say(`\n- PyTorch: skipped: ${torchSkip}`);
if (skippedSlow.length) say(`\n- tfjs-backend-cpu was not timed at batch ${[...new Set(skippedSlow)].join(', ')} (--slow-batches ${slowBatches.join(',')}): its "vs" column is n/a there.`);
say();

// Targets of issue 8, reported (never asserted): ≥ 20× tfjs-backend-cpu, within 2× of PyTorch.
const targetLines: string[] = [];
for (const batch of batches) {
  const best = (['ours-1', 'ours-pool'] as const).map((e) => find(e, batch)).filter((r) => r?.timing).sort((a, b) => a!.timing!.medianMs - b!.timing!.medianMs)[0];
  const tf = find('tfjs-cpu', batch);
  // PyTorch's faster configuration: on a busy machine its 2 OpenMP threads can be far slower than 1.
  const pt = (['torch-1', 'torch-2'] as const).map((e) => find(e, batch)).filter((r) => r?.timing).sort((a, b) => a!.timing!.medianMs - b!.timing!.medianMs)[0];
  if (!best) continue;
  if (tf?.timing) {
    const x = tf.timing.medianMs / best.timing!.medianMs;
    targetLines.push(`- batch ${batch}: ${LABEL[best.engine]} is ${x.toFixed(1)}× tfjs-backend-cpu (target ≥ 20×: ${x >= 20 ? 'met' : 'not met'})`);
  }
  if (pt?.timing) {
    const x = best.timing!.medianMs / pt.timing.medianMs;
    targetLines.push(`- batch ${batch}: ${LABEL[best.engine]} takes ${x.toFixed(2)}× the step time of ${LABEL[pt.engine]}, PyTorch's faster here (target ≤ 2×: ${x <= 2 ? 'met' : 'not met'})`);
  }
}
if (targetLines.length) {
  say('Targets (issue 8; reported, not asserted):');
  say();
  for (const l of targetLines) say(l);
  say();
}
say(`Load average at the end: ${fmtLoad(os.loadavg())}. Total time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);
save();
process.exit(0);
