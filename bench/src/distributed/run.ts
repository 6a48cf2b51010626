/**
 * `npm run bench:distributed -w bench`: simplex-vq's KNN regularizer with `shards: 2` against
 * PyTorch's DistributedDataParallel under torchrun (two processes, gloo, each one's KNN on its own
 * half of the batch), and a checkpoint's round trip simplex-vq → PyTorch → simplex-vq. See
 * bench/README.md.
 *
 *   node dist/distributed/run.js [--batch 32] [--methods knn-ce,knn-l2] [--train-steps 3] [--python <exe>]
 *
 * Exit status: 0 PASS; 1 FAIL or a run broke; 2 bad options; 77 SKIPPED (no python imports torch;
 * nothing was compared), as bench:trajectory. Tables on stdout (and results/distributed-latest.md),
 * progress on stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, findTorch } from '../trajectory/torch.js';
import { runCheckpointRoundTrip, type CheckpointResult } from './checkpoint.js';
import { runDdpCheck, type MethodCheck, type PrecisionCheck } from './ddp.js';
import { FACTOR, floorOf, worstOf, type Judged } from './rule.js';
import { DISTRIBUTED_METHODS, isDistributedMethod, type DistributedMethod } from './setup.js';

export const EXIT = { pass: 0, fail: 1, usage: 2, skipped: 77 } as const;

const HELP = `npm run bench:distributed -w bench -- [options]

One training step of the discrete autoencoder (apps/autoencoder's defaults, KNN regularizer with
shards = 2) in simplex-vq and in PyTorch's DistributedDataParallel under torchrun (2 processes,
gloo backend, each process's KNN on its own half of the batch: bench/peer/torch_ddp_shards.py):
loss and every gradient compared, in float64 and float32. Then a checkpoint saved by simplex-vq,
resumed for one Adam step by PyTorch (bench/peer/torch_checkpoint.py) and loaded back.

  --batch B          images in the step (even; default 32, the app's)
  --methods a,b      of ${DISTRIBUTED_METHODS.join(', ')} (default: both)
  --train-steps N    Adam steps simplex-vq takes before saving the checkpoint (default 3)
  --python EXE       the python with torch (default: $BENCH_TORCH_PYTHON, else python3, then /usr/bin/python3)

Exit status: 0 PASS, 1 FAIL, 2 bad options, 77 SKIPPED (no python imports torch).`;

function usage(msg: string): never {
  process.stderr.write(`bench:distributed: ${msg}\n\n${HELP}\n`);
  process.exit(EXIT.usage);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        batch: { type: 'string', default: '32' },
        methods: { type: 'string', default: DISTRIBUTED_METHODS.join(',') },
        'train-steps': { type: 'string', default: '3' },
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
  const batch = int('batch', values.batch, 2);
  if (batch % 2 !== 0) usage(`--batch must be even (two processes take equal halves), got ${batch}`);
  const methods = values.methods.split(',').filter(Boolean);
  const bad = methods.filter((m) => !isDistributedMethod(m));
  if (bad.length || methods.length === 0) usage(`--methods: unknown ${bad.join(', ') || '(none given)'}; choose from ${DISTRIBUTED_METHODS.join(', ')}`);
  return { batch, methods: methods as DistributedMethod[], trainSteps: int('train-steps', values['train-steps'], 1), python: values.python };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

const e1 = (v: number) => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(1) : String(v));
const ratio = (r: Judged) => (r.deviation / r.bound).toFixed(2);
const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

function ddpRow(m: MethodCheck, p: PrecisionCheck): string[] {
  const tag = p.precision === 'float32' ? 'f32' : 'f64';
  const loss = p.rows.find((r) => r.what === 'loss')!;
  const failed = p.rows.filter((r) => !r.pass).map((r) => r.what);
  return [
    m.method,
    p.precision,
    m.ours[p.precision].loss.toPrecision(8),
    m.torch[tag]!.loss.toPrecision(8),
    e1(loss.deviation),
    `${e1(p.worstGrad.deviation)} (${p.worstGrad.what})`,
    `${ratio(p.worst)} (${p.worst.what})`,
    failed.length ? `FAIL: ${failed.join(', ')}` : 'PASS',
  ];
}

function checkpointRows(c: CheckpointResult): string[][] {
  const stage = (name: string, rows: Judged[]) => {
    const largest = rows.reduce((w, r) => (r.deviation > w.deviation ? r : w));
    const worst = worstOf(rows);
    return [name, String(rows.length), `${e1(largest.deviation)} (${largest.what.replace(/^\w+: /, '')})`, `${ratio(worst)} (${worst.what.replace(/^\w+: /, '')})`, verdict(rows.every((r) => r.pass))];
  };
  return [
    stage('outputs from A (simplex-vq’s checkpoint)', c.before),
    stage('one Adam step: weights, expAvg, expAvgSq', c.step),
    stage('outputs from B (PyTorch’s checkpoint)', c.after),
  ];
}

async function main(): Promise<number> {
  const opt = options();
  const out: string[] = [];
  const say = (s: string) => {
    process.stdout.write(`${s}\n`);
    out.push(s);
  };
  const progress = (s: string) => process.stderr.write(`[distributed] ${s}\n`);
  const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
  say('# Past one machine: simplex-vq’s KNN shards against torchrun with per-process KNN');
  say('');
  say(`- ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, load average ${load()} at the start`);
  const torch = findTorch(opt.python);
  if (torch.python === null) {
    say(`- PyTorch: not found — ${torch.why}`);
    say('');
    say(`distributed: SKIPPED — nothing was compared (exit status ${EXIT.skipped}, not a PASS)`);
    return EXIT.skipped;
  }
  say(`- PyTorch ${torch.version} (${torch.python}): torchrun --nproc_per_node=2, gloo backend, one thread a process; simplex-vq's CPU backend, one thread`);
  say(`- the app's model and defaults (hidden 32, C = 32, M = 256, K = 1) with shards = 2; init 'data' (k-means on batch 1) done once by simplex-vq; the step on batch 2 of ${opt.batch} MNIST images (the app's Batcher, seed 0). Each PyTorch process takes ${opt.batch / 2} images, its KNN sees only their ${(opt.batch / 2) * 49} rows; DDP averages the gradients, the loss is all-reduced and divided by 2`);
  say(`- rule: Δ = |ours − torch| / |torch| (gradients: max |Δg| / max |g|) ≤ ${FACTOR} · E + floor, E the largest distance of PyTorch's own rounding variants (each process's images in another order; weights moved by one ulp; for float32 its float64 run). Floors: float32 128 ulp = ${e1(floorOf('float32', opt.batch))}, float64 (n − 1)·2⁻⁵³ = ${e1(floorOf('float64', opt.batch))} (n = ${opt.batch * 784} pixels)`);
  say('');
  const ddp = await runDdpCheck({ python: torch.python, methods: opt.methods, batch: opt.batch, progress });
  say(`## One step: simplex-vq (shards = 2, one process) against DDP (2 processes, KNN per process)`);
  say('');
  say(table(['method', 'precision', 'loss, simplex-vq', 'loss, torchrun', 'loss Δ', 'worst gradient Δ', 'worst Δ / bound', 'result'], ddp.methods.flatMap((m) => [ddpRow(m, m.float64), ddpRow(m, m.float32)])));
  say('');
  say('Not vacuous: the same step with shards = 1 (KNN over all rows, one process) is another function.');
  say('');
  say(table(['method', 'KNN term, shards = 2', 'shards = 1', 'differ by', 'gradients differ by', 'torch: in-process shards = 2 vs DDP', 'shards = 1: simplex-vq vs torch'], ddp.methods.map((m) => [
    m.method,
    m.ours.float64.knn.toPrecision(6),
    m.ours.shards1.knn.toPrecision(6),
    `${e1(m.contrast.knn)} (torch ${e1(m.contrast.torchKnn)})`,
    e1(m.contrast.grad),
    e1(m.inProcessVsDdp),
    e1(m.shards1Agreement),
  ])));
  say('');
  say(`- ${ddp.seconds.toFixed(1)} s (PyTorch's script ${ddp.torch.seconds.toFixed(1)} s after its start-up, in parallel with ours)`);
  say('');

  const ck = await runCheckpointRoundTrip({ python: torch.python, batch: opt.batch, trainSteps: opt.trainSteps, progress });
  say(`## Checkpoint round trip: simplex-vq → PyTorch → simplex-vq (knn-ce, shards = 2)`);
  say('');
  say(`- A: simplex-vq's saveCheckpoint after ${opt.trainSteps} Adam steps (model, Adam, step, config). PyTorch loads it (load_state_dict strict), writes its state_dict back (C), resumes Adam from A's moments, takes one step on batch ${opt.trainSteps + 1} and saves B in simplex-vq's checkpoint format`);
  say(`- C against A: ${ck.bitExact.stateDict.equal} of ${ck.bitExact.stateDict.total} tensors bit for bit; B's untouched buffers (${ck.bitExact.untouched.names.join(', ')}): ${ck.bitExact.untouched.equal} of ${ck.bitExact.untouched.total} bit for bit`);
  say(`- loadCheckpoint(B, { model, optimizer }): step ${ck.restored.step}, Adam's step count ${[...new Set(ck.restored.adamSteps)].join(', ')} for ${ck.restored.adamSteps.length} parameters`);
  say(`- evaluation-mode codes of the ${ck.codes.rows} rows: ${ck.codes.differ[0]} (from A) and ${ck.codes.differ[1]} (from B) differ from PyTorch's`);
  say('');
  say(table(['float32, simplex-vq vs PyTorch', 'results', 'largest Δ', 'worst Δ / bound', 'result'], checkpointRows(ck)));
  say('');
  say(`- ${ck.seconds.toFixed(1)} s; load average ${load()} at the end`);
  say('');
  const pass = ddp.pass && ck.pass;
  const per = [...ddp.methods.map((m) => `${m.method} ${verdict(m.pass)}`), `checkpoint round trip ${verdict(ck.pass)}`].join(', ');
  say(`distributed: ${verdict(pass)} (${per}) — shards = 2 in one process equals torchrun's 2 processes with per-process KNN, loss and every gradient within ${FACTOR}× PyTorch's own rounding; checkpoints move both ways`);
  mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
  writeFileSync(path.join(BENCH_DIR, 'results', 'distributed-latest.md'), `${out.join('\n')}\n`);
  return pass ? EXIT.pass : EXIT.fail;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:distributed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.stdout.write('distributed: FAIL — a run broke (see the message above)\n');
    process.exit(EXIT.fail);
  },
);
