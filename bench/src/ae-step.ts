/**
 * Time of one training step of the discrete autoencoder (apps/autoencoder, method knn-ce) on the
 * CPU backend, one thread against the worker pool.
 *
 * The model is the autoencoder's own (@simplex-vq/autoencoder/model) with the app's defaults
 * (hidden 32, C = 32, M = 256, one group, K = 1, one shard, Adam lr 2e-3). A step is what apps/autoencoder/src/train.ts does: zeroGrad, forward, the loss
 * (reconstruction MSE + the quantizer's loss), backward, Adam, reading the loss. The batch is
 * seeded noise in [0, 1) shaped like MNIST digits (the arithmetic does not depend on the values).
 *
 * Each figure is the median of the timed steps after warm-up steps; beside the wall time, the CPU
 * time of a step (every thread of the process), which varies less on a shared machine. After both engines ran, their
 * parameters are compared bit for bit (the pool must give one thread's results exactly).
 *
 * Usage: node dist/ae-step.js [--batch 16,64] [--steps 8] [--warmup 3] [--engines one,pool]
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CpuBackend, Generator, rand, setBackend } from '@simplex-vq/tensor';
import { Adam } from '@simplex-vq/nn';
import { Autoencoder } from '@simplex-vq/autoencoder/model';

const { values: opts } = parseArgs({
  options: {
    batch: { type: 'string', default: '16,64' },
    steps: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'one,pool' },
  },
});
const batches = opts.batch.split(',').map(Number);
const steps = Number(opts.steps);
const warmup = Number(opts.warmup);
const engines = opts.engines.split(',') as Array<'one' | 'pool'>;

interface Run {
  medianMs: number;
  /** Median CPU time of a step, all threads of the process (user + system). */
  cpuMs: number;
  minMs: number;
  maxMs: number;
  loss: number;
  params: Float32Array[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function run(backend: CpuBackend, batch: number): Run {
  setBackend(backend);
  const model = new Autoencoder({ method: 'knn-ce', dim: 32, codebookSize: 256, groups: 1, hidden: 32, k: 1, shards: 1 }, new Generator(0));
  model.train();
  const optimizer = new Adam(model.parameters(), { lr: 2e-3 });
  const dataGen = new Generator(1);
  const batchesData = Array.from({ length: 4 }, () => rand([batch, 1, 28, 28], { generator: dataGen }));
  let loss = NaN;
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const x = batchesData[i % batchesData.length]!;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    optimizer.zeroGrad();
    const total = model.trainingLoss(x).loss; // the app's own objective
    total.backward();
    optimizer.step();
    loss = total.item();
    if (i >= warmup) {
      samples.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuSamples.push((c.user + c.system) / 1000);
    }
  }
  const medianMs = median(samples);
  samples.sort((a, b) => a - b);
  return { medianMs, cpuMs: median(cpuSamples), minMs: samples[0]!, maxMs: samples[samples.length - 1]!, loss, params: model.parameters().map((p) => p.data() as Float32Array) };
}

const identical = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length && a.every((x, i) => x.length === b[i]!.length && x.every((v, j) => Object.is(v, b[i]![j])));

const backends = { one: new CpuBackend({ threads: 1 }), pool: new CpuBackend({ threads: 'auto' }) };
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
console.log(`autoencoder training step (knn-ce, M = 256, C = 32, hidden 32, Adam); ${warmup} warm-up + ${steps} timed steps`);
console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, load ${load()} at start`);
console.log('| batch | engine | median ms/step | steps/s | min–max ms | CPU ms/step | loss after |');
console.log('|---|---|---|---|---|---|---|');
for (const batch of batches) {
  const results: Partial<Record<'one' | 'pool', Run>> = {};
  for (const e of engines) {
    const r = run(backends[e], batch);
    results[e] = r;
    const label = e === 'one' ? 'cpu, 1 thread' : `cpu, pool (${backends.pool.threadCount} threads)`;
    console.log(`| ${batch} | ${label} | ${r.medianMs.toFixed(1)} | ${(1000 / r.medianMs).toFixed(2)} | ${r.minMs.toFixed(0)}–${r.maxMs.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.loss.toPrecision(7)} |`);
  }
  if (results.one && results.pool) {
    console.log(`batch ${batch}: pool vs one thread ${identical(results.one.params, results.pool.params) ? 'bit-identical' : 'DIFFERENT'}; pool speed-up ${(results.one.medianMs / results.pool.medianMs).toFixed(2)}×`);
  }
}
console.log(`load ${load()} at end; products on the pool: ${backends.pool.pooledProducts}`);
