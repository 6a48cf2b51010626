/**
 * The training step of bench:peer over many fresh processes (npm run bench:rounds -w bench).
 *
 * On the shared 2-core machines this project is measured on, the step time of a fresh process
 * varies by up to 2× from one process to the next, for PyTorch and for simplex-vq alike, and is
 * steady within a process (CPU time follows wall time, so it is the work a process gets done per
 * second, not the harness). One process per engine, as bench:peer runs them, is then a draw. Here
 * every engine runs in R rounds of fresh processes, the engines alternating within each round so
 * that they share the machine's good and bad minutes; each process times its steps like
 * bench:peer; the table gives, per engine and batch, the median over processes of each process's
 * median step, and their range. The ratio is simplex-vq's best configuration against PyTorch's
 * (issue 15's target: ≤ 1.0).
 *
 *   node dist/peer/rounds.js [--rounds 5] [--batches 16,64] [--engines ours-1,ours-pool,torch-1,torch-2]
 *                            [--warmup 5] [--steps 10] [--min-seconds 2] [--python <exe>] [--out <dir>]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { findTorch } from '../trajectory/torch.js';
import { OptionError, loadAverage, machineLine, ms, nameList, nonNegativeNumber, positiveInt, positiveIntList, readOptions, table } from '../script-kit.js';
import { isTorch, makeInputsFile, runEngineChild } from './child.js';
import { BENCH_DIR, SHORT_LABEL, median, type EngineId } from './common.js';

const ROUND_ENGINES = ['ours-1', 'ours-pool', 'torch-1', 'torch-2'] as const satisfies readonly EngineId[];
type RoundEngine = (typeof ROUND_ENGINES)[number];
const LABEL: Record<RoundEngine, string> = SHORT_LABEL;

const HELP = `usage: node dist/peer/rounds.js [options]   (npm run bench:rounds -w bench -- [options])

The autoencoder's training step (bench:peer's model, knn-ce, Adam) in R rounds of fresh processes,
the engines alternating within each round; per engine and batch the median over processes of each
process's median step time, the range, and simplex-vq's best against PyTorch's best.

  --rounds <n>        fresh processes per engine and batch (default 5)
  --batches <list>    batch sizes (default 16,64)
  --engines <list>    from ${ROUND_ENGINES.join(', ')} (default all)
  --warmup <n>        warm-up steps in each process (default 5)
  --steps <n>         timed steps in each process, at least (default 10; more, up to 50, while under --min-seconds)
  --min-seconds <x>   (default 2)
  --python <exe>      the python with torch (default: $BENCH_TORCH_PYTHON, python3, then /usr/bin/python3)
  --out <dir>         where rounds-latest.{md,json} and the inputs file go (default bench/results)
  --help              this text
`;

const opt = readOptions('bench:rounds', HELP, {
  rounds: { type: 'string', default: '5' },
  batches: { type: 'string', default: '16,64' },
  engines: { type: 'string', default: ROUND_ENGINES.join(',') },
  warmup: { type: 'string', default: '5' },
  steps: { type: 'string', default: '10' },
  'min-seconds': { type: 'string', default: '2' },
  python: { type: 'string' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'results') },
}, (v) => {
  const warmup = Number(v.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) throw new OptionError(`--warmup: expected an integer ≥ 0, got '${String(v.warmup)}'`);
  return {
    rounds: positiveInt('rounds', v.rounds as string),
    batches: positiveIntList('batches', v.batches as string),
    engines: nameList('engines', v.engines as string, ROUND_ENGINES),
    warmup,
    steps: positiveInt('steps', v.steps as string),
    minSeconds: nonNegativeNumber('min-seconds', v['min-seconds'] as string),
    python: v.python as string | undefined,
    out: path.resolve(v.out as string),
  };
});

const progress = (msg: string) => process.stderr.write(`[rounds] ${msg}\n`);
const torch = opt.engines.some((e) => isTorch(e)) ? findTorch(opt.python) : null;
const engines = opt.engines.filter((e) => !(isTorch(e) && torch?.python === null));
if (torch && torch.python === null) progress(`PyTorch skipped: ${torch.why}`);

mkdirSync(opt.out, { recursive: true });
const inputsFile = path.join(opt.out, 'rounds-inputs.safetensors');
progress('writing the inputs file (simplex-vq: initial weights and batches)');
const made = await makeInputsFile(inputsFile, opt.batches, opt.batches[0]!);
if (!made.result) {
  process.stderr.write(`bench:rounds: could not write the inputs file: ${made.error}\n`);
  process.exit(1);
}

const started = new Date();
const loadStart = loadAverage();
/** Per engine and batch: each process's median step (ms) and CPU ms a step. */
const samples = new Map<string, Array<{ medianMs: number; cpuMs: number }>>();
const errors: string[] = [];
const key = (e: RoundEngine, b: number) => `${e}@${b}`;
for (let round = 1; round <= opt.rounds; round++) {
  for (const batch of opt.batches) {
    for (const e of engines) {
      const args = ['--inputs', inputsFile, '--batch', String(batch), '--warmup', String(opt.warmup), '--steps', String(opt.steps), '--min-seconds', String(opt.minSeconds)];
      const r = await runEngineChild(e, torch?.python ?? null, args, 15 * 60_000, batch);
      if (!r.timing) {
        errors.push(`${LABEL[e]}, batch ${batch}, round ${round}: ${r.error ?? 'no timing'}`);
        continue;
      }
      const list = samples.get(key(e, batch)) ?? [];
      list.push({ medianMs: r.timing.medianMs, cpuMs: r.timing.cpuMsPerStep });
      samples.set(key(e, batch), list);
      progress(`round ${round}/${opt.rounds}, batch ${batch}, ${e}: ${ms(r.timing.medianMs)} ms (load ${loadAverage()})`);
    }
  }
}

const lines: string[] = [];
const say = (s = '') => lines.push(s);
say('# The training step over fresh processes (bench:rounds)');
say();
say(`- date: ${started.toISOString()}; ${machineLine()}`);
say(`- load average at the start: ${loadStart}; at the end: ${loadAverage()}`);
say(`- ${opt.rounds} rounds; in each, every engine and batch in a fresh process, in the order ${engines.join(', ')}; each process: ${opt.warmup} warm-up steps, then ≥ ${opt.steps} timed steps (more, up to 50, while under ${opt.minSeconds} s)`);
say(`- PyTorch: ${torch === null ? 'not selected' : torch.python === null ? `skipped: ${torch.why}` : `${torch.version} (${torch.python})`}`);
say();
say('Median over processes of each process\'s median step (ms), the range over processes, and the mean CPU ms a step (all threads):');
say();
const stat = (e: RoundEngine, b: number) => {
  const s = samples.get(key(e, b));
  if (!s?.length) return null;
  const m = s.map((x) => x.medianMs);
  return { median: median(m), min: Math.min(...m), max: Math.max(...m), cpu: median(s.map((x) => x.cpuMs)), n: s.length };
};
const rows: string[][] = [];
const ratios: Record<string, number> = {};
for (const b of opt.batches) {
  for (const e of engines) {
    const s = stat(e, b);
    rows.push([LABEL[e], String(b), s ? ms(s.median) : '–', s ? `${ms(s.min)}–${ms(s.max)}` : '–', s ? ms(s.cpu) : '–', s ? String(s.n) : '0']);
  }
}
say(table(['engine', 'batch', 'median ms', 'range', 'CPU ms', 'processes'], rows, ['l', 'r', 'r', 'r', 'r', 'r']));
say();
for (const b of opt.batches) {
  const best = (list: RoundEngine[]) => list.map((e) => ({ e, s: stat(e, b) })).filter((x) => x.s).sort((x, y) => x.s!.median - y.s!.median)[0];
  const ours = best(engines.filter((e) => !isTorch(e)));
  const theirs = best(engines.filter((e) => isTorch(e)));
  if (!ours || !theirs) continue;
  const x = ours.s!.median / theirs.s!.median;
  ratios[b] = x;
  say(`- batch ${b}: ${LABEL[ours.e]} ${ms(ours.s!.median)} ms against ${LABEL[theirs.e]} ${ms(theirs.s!.median)} ms: ${x.toFixed(2)}× (issue 15's target ≤ 1.0: ${x <= 1 ? 'met' : 'not met'})`);
}
if (errors.length) say(`\n${errors.map((e) => `- ${e}`).join('\n')}`);
const md = `${lines.join('\n')}\n`;
process.stdout.write(md);
writeFileSync(path.join(opt.out, 'rounds-latest.md'), md);
writeFileSync(path.join(opt.out, 'rounds-latest.json'), `${JSON.stringify({ date: started.toISOString(), load: { start: loadStart, end: loadAverage() }, options: opt, samples: Object.fromEntries(samples), ratios, errors }, null, 2)}\n`);
progress(`wrote ${path.join(opt.out, 'rounds-latest.md')} and .json`);
process.exit(errors.length ? 1 : 0);
