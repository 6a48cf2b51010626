/**
 * Before/after measurements of an engine change: this checkout's packages against another
 * checkout's (built: `npm ci && npm run build` there), both loaded into one process and run
 * alternately, so that both see the same machine. On a shared machine wall time mostly measures
 * the load; the CPU time of the process (all threads) is much steadier, so that is what is
 * compared, and the load average is printed with the figures.
 *
 *   node dist/ab.js step   --before <dir> [--batch 16,64] [--dim 32] [--codebook-size 256] [--method knn-ce] [--steps 12] [--warmup 15] [--threads 1]
 *   node dist/ab.js matmul --before <dir> [--rounds 3]
 *
 * step: one training step of the autoencoder (the app's model and objective, Adam), median CPU ms.
 * matmul: the CPU backend's matmul primitive on square products and on the autoencoder's shapes,
 * GFLOP/s from the median CPU time (median over rounds of medians over alternating calls).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './peer/common.js';

const HELP = `usage: node dist/ab.js <step|matmul> --before <checkout> [options]
  --before <dir>        another checkout of simplex-vq, built (its packages/*/dist and apps/autoencoder/dist)
  step:   --batch <list> (16,64)  --dim <C> (32)  --codebook-size <M> (256)  --method <name> (knn-ce)
          --steps <n> (12)  --warmup <n> (15)  --threads <n> (1)
  matmul: --rounds <n> (3)`;

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    before: { type: 'string' },
    batch: { type: 'string', default: '16,64' },
    dim: { type: 'string', default: '32' },
    'codebook-size': { type: 'string', default: '256' },
    method: { type: 'string', default: 'knn-ce' },
    steps: { type: 'string', default: '12' },
    warmup: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h' },
  },
});

function fail(msg: string): never {
  console.error(`ab: ${msg}\n${HELP}`);
  process.exit(2);
}

const mode = positionals[0];
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
if (mode !== 'step' && mode !== 'matmul') fail(`the first argument must be 'step' or 'matmul', got '${mode ?? ''}'`);
if (!opts.before) fail('--before <dir> is required');
const positiveInt = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: a positive integer, got '${v}'`);
  return n;
};

const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const before = path.resolve(opts.before);

/* eslint-disable @typescript-eslint/no-explicit-any -- two builds of the packages, typed alike */
async function load(root: string, what: string[]): Promise<Record<string, any>> {
  const files: Record<string, string> = {
    T: 'packages/tensor/dist/index.js',
    NN: 'packages/nn/dist/index.js',
    AE: 'apps/autoencoder/dist/model.js',
  };
  const out: Record<string, any> = {};
  for (const w of what) {
    try {
      out[w] = await import(pathToFileURL(path.join(root, files[w]!)).href);
    } catch (e) {
      fail(`cannot load ${files[w]} from ${root} (is it built?): ${(e as Error).message}`);
    }
  }
  return out;
}

const cpuMs = (from: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
};
const load1 = () => os.loadavg()[0]!.toFixed(1);

console.log(`ab ${mode}: after = ${here}, before = ${before}; ${new Date().toISOString()}, load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);

if (mode === 'step') {
  const batches = opts.batch.split(',').map((b) => positiveInt('batch', b));
  const steps = positiveInt('steps', opts.steps), warmup = positiveInt('warmup', opts.warmup), threads = positiveInt('threads', opts.threads);
  const C = positiveInt('dim', opts.dim), M = positiveInt('codebook-size', opts['codebook-size']);
  const builds = { after: await load(here, ['T', 'NN', 'AE']), before: await load(before, ['T', 'NN', 'AE']) };
  console.log(`| batch | C | M | method | before CPU ms/step | after CPU ms/step | speed-up | loss before / after | load |\n|---|---|---|---|---:|---:|---:|---|---|`);
  for (const batch of batches) {
    const runs = Object.fromEntries(Object.entries(builds).map(([name, { T, NN, AE }]) => {
      const backend = new T.CpuBackend({ threads });
      T.setBackend(backend);
      const model = new AE.Autoencoder({ method: opts.method, dim: C, codebookSize: M, groups: 1, hidden: 32, k: 1, shards: 1 }, new T.Generator(0));
      model.train();
      const optimizer = new NN.Adam(model.parameters(), { lr: 2e-3 });
      const x = T.rand([batch, 1, 28, 28], { generator: new T.Generator(1) });
      const step = (): number => {
        optimizer.zeroGrad();
        const loss = model.trainingLoss(x).loss;
        loss.backward();
        optimizer.step();
        return loss.item();
      };
      return [name, { T, backend, step, times: [] as number[], loss: NaN }];
    }));
    for (let i = 0; i < warmup + steps; i++) {
      for (const r of Object.values(runs)) {
        r.T.setBackend(r.backend);
        const c0 = process.cpuUsage();
        r.loss = r.step();
        if (i >= warmup) r.times.push(cpuMs(c0));
      }
    }
    const b = median(runs.before!.times), a = median(runs.after!.times);
    console.log(`| ${batch} | ${C} | ${M} | ${opts.method} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(b / a).toFixed(2)}× | ${runs.before!.loss.toPrecision(8)} / ${runs.after!.loss.toPrecision(8)} | ${load1()} |`);
  }
} else {
  const rounds = positiveInt('rounds', opts.rounds);
  const builds = { after: await load(here, ['T']), before: await load(before, ['T']) };
  const backends = { after: new builds.after.T.CpuBackend({ threads: 1 }), before: new builds.before.T.CpuBackend({ threads: 1 }) };
  // Square products, then the autoencoder's (M = 256 and 512 distances, conv products); 'A'/'B': that operand transposed.
  const shapes: Array<[number, number, number, ('A' | 'B')?]> = [
    [256, 256, 256], [512, 512, 512], [1024, 1024, 1024], [3136, 256, 32], [512, 3136, 32, 'A'], [32, 3136, 288],
    [32, 288, 3136, 'B'], [32, 12544, 16], [1568, 512, 256, 'B'], [512, 256, 1568, 'A'],
  ];
  console.log('| product (m×n×k, transposed operand) | before GFLOP/s | after GFLOP/s | speed-up |\n|---|---:|---:|---:|');
  for (const [m, n, k, t] of shapes) {
    const rand = (len: number) => Float32Array.from({ length: len }, () => Math.random() - 0.5);
    const a = rand(m * k), b = rand(k * n);
    const spec = { batch: 1, m, n, k, aBatchStride: 0, bBatchStride: 0, transA: t === 'A', transB: t === 'B' };
    const reps = Math.max(15, Math.min(40, Math.round(6e8 / (m * n * k))));
    const perRound: Record<'after' | 'before', number[]> = { after: [], before: [] };
    for (let r = 0; r < rounds; r++) {
      const times: Record<'after' | 'before', number[]> = { after: [], before: [] };
      for (let i = 0; i < reps + 3; i++) {
        for (const name of ['after', 'before'] as const) {
          const c0 = process.cpuUsage();
          backends[name].matmul(a, b, spec);
          if (i >= 3) times[name].push(cpuMs(c0));
        }
      }
      for (const name of ['after', 'before'] as const) perRound[name].push(median(times[name]));
    }
    const gflops = (name: 'after' | 'before') => (2 * m * n * k) / median(perRound[name]) / 1e6;
    console.log(`| ${m}×${n}×${k}${t ? ` (${t}ᵀ)` : ''} | ${gflops('before').toFixed(1)} | ${gflops('after').toFixed(1)} | ${(gflops('after') / gflops('before')).toFixed(2)}× |`);
  }
}
console.log(`load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')} at the end`);
process.exit(0); // the pools' workers are unref'd, but be explicit
