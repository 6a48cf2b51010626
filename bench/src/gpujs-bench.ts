/**
 * The gpu.js backend against the CPU backend, in one run: float32 matmul at 512² and 1024², and
 * one training step (forward, backward, SGD update) of a small conv autoencoder with a smoothed
 * quantizer and the KNN-CE loss, on every gpu.js mode that runs here.
 *
 * In Node without headless-gl that is gpu.js's 'webasm' (WebAssembly SIMD) and 'cpu' (transpiled
 * JavaScript) targets; 'gpu' is listed with whatever gpu.js chose for it. The WebGL2 target runs
 * in a browser only (see docs/gpu.md for figures from headless Chromium).
 *
 * Usage: node dist/gpujs-bench.js [--quick]
 */
import * as os from 'node:os';
import { CpuBackend, type Backend } from '@simplex-vq/tensor';
import { createGpuJsBackend, type GpuJsBackend } from '@simplex-vq/backend-gpujs';
import { makeStep, matmulRunner, time } from './gpujs-workload.js';

const quick = process.argv.includes('--quick');

interface Row {
  name: string;
  target: string;
  mm512: number;
  mm1024: number;
  stepMs: number;
}

const engines: Array<{ name: string; make: () => Backend; describe: (b: Backend) => string }> = [
  { name: 'simplex-vq cpu, 1 thread', make: () => new CpuBackend({ threads: 1 }), describe: () => 'TypeScript' },
  { name: 'simplex-vq cpu, pool', make: () => new CpuBackend({ threads: 'auto' }), describe: (b) => `${(b as CpuBackend).threadCount} threads` },
  ...(['gpu', 'webasm', 'cpu'] as const).map((mode) => ({
    name: `gpujs mode '${mode}'`,
    make: () => createGpuJsBackend({ mode }) as Backend,
    describe: (b: Backend) => (b as GpuJsBackend).describe(),
  })),
];

console.log('# gpu.js backend against the CPU backend\n');
console.log(`date:    ${new Date().toISOString()}`);
console.log(`machine: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, node ${process.version}`);
console.log(`load:    ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (1/5/15-min; above ~1 means other processes shared the cores)`);
console.log(`method:  medians after warm-up; matmul results read back to the host; a step is forward + backward + SGD update, batch 16\n`);

const rows: Row[] = [];
for (const e of engines) {
  let backend: Backend;
  try {
    backend = e.make();
  } catch (err) {
    console.log(`${e.name}: unavailable (${(err as Error).message})`);
    continue;
  }
  const slow = e.name.includes("'cpu'");
  const runs = quick ? 2 : slow ? 3 : 5;
  const m512 = time(matmulRunner(backend, 512), 1, runs);
  const m1024 = time(matmulRunner(backend, 1024), 1, quick || slow ? 2 : 3);
  const step = makeStep(backend, 16);
  const s = time(() => void step(), 2, runs);
  rows.push({ name: e.name, target: e.describe(backend), mm512: (2 * 512 ** 3) / m512.ms / 1e6, mm1024: (2 * 1024 ** 3) / m1024.ms / 1e6, stepMs: s.ms });
  process.stderr.write(`done: ${e.name}\n`);
}

const ref = rows[1] ?? rows[0]!;
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`| ${pad('engine', 26)} | ${pad('runs on', 34)} | matmul 512² GFLOP/s | matmul 1024² GFLOP/s | training step ms | step vs CPU pool |`);
console.log(`|${'-'.repeat(28)}|${'-'.repeat(36)}|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${pad(r.name, 26)} | ${pad(r.target, 34)} | ${r.mm512.toFixed(2)} | ${r.mm1024.toFixed(2)} | ${r.stepMs.toFixed(0)} | ${(ref.stepMs / r.stepMs).toFixed(2)}× |`);
}
console.log('\n"step vs CPU pool" > 1 means faster than the CPU backend with its worker pool.');
process.exit(0);
