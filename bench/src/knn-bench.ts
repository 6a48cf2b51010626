/**
 * The cost of the KNN regularizer beside the quantizer it regularizes: forward + backward of
 * L_KNN (CE and L2) on an N×M matrix of log-probabilities, and forward + backward of the smoothed
 * quantizer itself (distance logits, softmax, q = pE, at C = 32), for N ∈ {1024, 4096} and
 * M ∈ {256, 1024, 4096}, on the CPU backend. Target (issue 5): KNN-CE ≤ 25% of the quantizer's own
 * cost at N = 4096, M = 1024.
 *
 * Usage: node dist/knn-bench.js [--quick]
 */
import * as os from 'node:os';
import { Generator, randn } from '@simplex-vq/tensor';
import { SmoothedQuantizer, knnRegularizer } from '@simplex-vq/vq';
import { time } from './gpujs-workload.js';

const quick = process.argv.includes('--quick');
const C = 32;

console.log('# KNN regularizer cost beside the smoothed quantizer (CPU backend)\n');
console.log(`date: ${new Date().toISOString()}; ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores; node ${process.version}; load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`each figure: median ms of forward + backward after a warm-up run; K = 1; C = ${C}\n`);
console.log('| N | M | quantizer fwd+bwd ms | KNN-CE ms | KNN-L2 ms | KNN-CE / quantizer | KNN-L2 / quantizer |');
console.log('|---|---|---|---|---|---|---|');
let target = NaN;
for (const n of [1024, 4096]) {
  for (const m of [256, 1024, 4096]) {
    const g = new Generator(n + m);
    const z = randn([n, C], { generator: g }).requiresGrad_();
    const q = new SmoothedQuantizer({ dim: C, codebookSize: m, regularizer: { type: 'none' }, commitment: 0, generator: g });
    const runs = quick || n * m > 4e6 ? 3 : 5;
    const quantizer = time(() => {
      z.grad = null;
      q.zeroGrad();
      const out = q.forward(z);
      out.quantized.sum().backward();
    }, 1, runs);
    const logProbs = randn([n, m], { generator: g }).logSoftmax(-1).detach().requiresGrad_();
    const knn = (distance: 'ce' | 'l2') =>
      time(() => {
        logProbs.grad = null;
        knnRegularizer(logProbs, { input: 'logProbs', k: 1, distance }).backward();
      }, 1, runs);
    const ce = knn('ce'), l2 = knn('l2');
    if (n === 4096 && m === 1024) target = ce.ms / quantizer.ms;
    console.log(`| ${n} | ${m} | ${quantizer.ms.toFixed(1)} | ${ce.ms.toFixed(1)} | ${l2.ms.toFixed(1)} | ${((100 * ce.ms) / quantizer.ms).toFixed(1)}% | ${((100 * l2.ms) / quantizer.ms).toFixed(1)}% |`);
  }
}
console.log(`\nTarget: KNN-CE ≤ 25% of the quantizer's cost at N = 4096, M = 1024: measured ${(100 * target).toFixed(1)}% (${target <= 0.25 ? 'met' : 'not met'}).`);
process.exit(0);
