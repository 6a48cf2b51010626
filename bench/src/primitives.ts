/**
 * Where a training step's time goes, by backend primitive: every call the CPU backend receives
 * during the autoencoder's step (the app's model and objective, Adam) is timed in CPU time and
 * grouped by primitive, and by primitive and shape (matmul by m×n×k and transposes, elementwise by
 * op and shapes). CPU time, because the machine is shared; the per-call timer adds a little to
 * each call, so the sum over primitives is compared with the step's own CPU time.
 *
 *   node dist/primitives.js [--batch 64] [--dim 32] [--codebook-size 256] [--method knn-ce] [--warmup 20] [--steps 8] [--top 30]
 *
 * The warm-up matters: V8 optimizes the engine's loops over the first ~10–15 steps.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { CpuBackend, Generator, rand, setBackend } from '@simplex-vq/tensor';
import { Adam } from '@simplex-vq/nn';
import { Autoencoder } from '@simplex-vq/autoencoder/model';

const HELP = `usage: node dist/primitives.js [--batch 64] [--dim 32] [--codebook-size 256] [--method knn-ce] [--warmup 20] [--steps 8] [--top 30]`;
const { values: opts } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    dim: { type: 'string', default: '32' },
    'codebook-size': { type: 'string', default: '256' },
    method: { type: 'string', default: 'knn-ce' },
    warmup: { type: 'string', default: '20' },
    steps: { type: 'string', default: '8' },
    top: { type: 'string', default: '30' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const int = (name: keyof typeof opts, min: number): number => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`primitives: --${name}: an integer ≥ ${min}, got '${String(opts[name])}'\n${HELP}`);
    process.exit(2);
  }
  return v;
};
const batch = int('batch', 1), dim = int('dim', 1), codebookSize = int('codebook-size', 2);
const warmup = int('warmup', 0), steps = int('steps', 1), top = int('top', 1);

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

// Wrap every primitive of one backend instance with a CPU-time counter.
const backend = new CpuBackend({ threads: 1 });
const PRIMITIVES = ['fromArray', 'read', 'full', 'cast', 'unary', 'binary', 'where', 'reduce', 'matmul', 'permute', 'broadcastTo',
  'slice', 'sliceScatter', 'concat', 'gather', 'scatterAdd', 'indexSelect', 'indexAdd', 'topk', 'im2col', 'col2im',
  'softmaxRows', 'softmaxRowsBackward'] as const;
const stats = new Map<string, { calls: number; ms: number }>();
let recording = false;
const dims = (s: unknown) => (Array.isArray(s) ? s.join('×') : '');
for (const name of PRIMITIVES) {
  const original = (backend[name] as (...a: unknown[]) => unknown).bind(backend);
  (backend as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    if (!recording) return original(...args);
    const t0 = cpuMs();
    const out = original(...args);
    const dt = cpuMs() - t0;
    let key: string = name;
    if (name === 'unary') key = `unary ${String(args[0])} [${String(args[2])}]`;
    else if (name === 'binary') key = `binary ${String(args[0])} [${dims(args[2])}] [${dims(args[4])}]`;
    else if (name === 'reduce') key = `reduce ${String(args[0])}`;
    else if (name === 'softmaxRows' || name === 'softmaxRowsBackward') {
      const [rows, len] = name === 'softmaxRows' ? [args[1], args[2]] : [args[2], args[3]]; // after (x) or (g, p)
      key = `${name} ${args[4] ? 'log' : 'softmax'} [${String(rows)}×${String(len)}]`;
    }
    else if (name === 'matmul') {
      const s = args[2] as { batch: number; m: number; n: number; k: number; transA: boolean; transB: boolean };
      key = `matmul ${s.batch > 1 ? `${s.batch}× ` : ''}${s.m}×${s.n}×${s.k}${s.transA ? ' Aᵀ' : ''}${s.transB ? ' Bᵀ' : ''}`;
    }
    const e = stats.get(key) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += dt;
    stats.set(key, e);
    return out;
  };
}
setBackend(backend);

const model = new Autoencoder({ method: opts.method as never, dim, codebookSize, groups: 1, hidden: 32, k: 1, shards: 1 }, new Generator(0));
model.train();
const optimizer = new Adam(model.parameters(), { lr: 2e-3 });
const x = rand([batch, 1, 28, 28], { generator: new Generator(1) });
const step = () => {
  optimizer.zeroGrad();
  const loss = model.trainingLoss(x).loss;
  loss.backward();
  optimizer.step();
  return loss.item();
};
for (let i = 0; i < warmup; i++) step();
recording = true;
const t0 = cpuMs();
for (let i = 0; i < steps; i++) step();
const stepMs = (cpuMs() - t0) / steps;
recording = false;

const rows = [...stats].map(([key, e]) => ({ key, calls: e.calls / steps, ms: e.ms / steps })).sort((a, b) => b.ms - a.ms);
const inPrimitives = rows.reduce((s, r) => s + r.ms, 0);
const groups = new Map<string, number>();
for (const r of rows) groups.set(r.key.split(' ')[0]!, (groups.get(r.key.split(' ')[0]!) ?? 0) + r.ms);

console.log(`# A training step by backend primitive: ${opts.method}, batch ${batch}, C = ${dim}, M = ${codebookSize}, one thread`);
console.log(`${new Date().toISOString()}, load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}; ${warmup} warm-up and ${steps} timed steps; CPU time`);
console.log(`\nstep: ${stepMs.toFixed(1)} ms CPU (with the per-call timer), of which ${inPrimitives.toFixed(1)} ms in ${rows.reduce((s, r) => s + r.calls, 0)} primitive calls\n`);
console.log('| primitive | ms a step | share of the step |\n|---|---:|---:|');
for (const [g, ms] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`| ${g} | ${ms.toFixed(1)} | ${((100 * ms) / stepMs).toFixed(1)}% |`);
console.log(`\n| call (top ${top}) | calls a step | ms a step |\n|---|---:|---:|`);
for (const r of rows.slice(0, top)) console.log(`| ${r.key} | ${r.calls} | ${r.ms.toFixed(2)} |`);
process.exit(0);
