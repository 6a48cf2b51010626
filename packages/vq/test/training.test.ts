/**
 * The methods in a tiny training loop, behaving as the paper says they do: a linear encoder and
 * decoder around each quantizer on eight clusters of 2-D points, M = 16 codes.
 *
 * Measured with seed 0 (usage = code usage of the eval-mode codes on the training set; indiv =
 * individual perplexity of the training-mode p_n, 1 for hard quantizers; mse = eval reconstruction):
 *
 *   method       usage  indiv   mse        (seeds 1 and 2 agree; margins below leave room)
 *   ste          0.69   1.00   0.068
 *   ste-ema      0.44   1.00   0.229
 *   gumbel       0.56   1.30   0.080
 *   smooth       0.81   3.70   0.567
 *   perplexity   1.00   4.79   0.686
 *   simvq        0.69   1.00   0.225
 *   knn-l2       1.00   2.05   0.248
 *   knn-ce       1.00   1.69   0.177
 *
 * The claims: the KNN methods use every code and keep p close to the vertices (individual
 * perplexity near 2 against 4–5); the perplexity regularizer reaches high usage with p near the
 * centre of the simplex; with no regularizer p stays far from the vertices too, and its hard codes
 * reconstruct badly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '@simplex-vq/tensor';
import { Adam, Linear, mseLoss } from '@simplex-vq/nn';
import { CodeUsageTracker, METHODS, createQuantizer, type Method } from '../src/index.js';
import { clusteredData } from './helpers.js';

interface Outcome {
  usage: number;
  indiv: number;
  mse: number;
  firstLoss: number;
  lastLoss: number;
}

const M = 16;

function train(method: Method, seed: number): Outcome {
  const gen = new Generator(seed);
  const x = clusteredData(100 + seed); // 8 clusters × 32 points, radius 3, noise 0.3
  const encoder = new Linear(2, 2, { generator: gen });
  const decoder = new Linear(2, 2, { generator: gen });
  const quantizer = createQuantizer(method, { dim: 2, codebookSize: M, k: 2, generator: gen });
  const opt = new Adam([...encoder.parameters(), ...decoder.parameters(), ...quantizer.parameters()], { lr: 0.05 });
  let firstLoss = NaN, lastLoss = NaN;
  for (let step = 0; step < 300; step++) {
    opt.zeroGrad();
    const out = quantizer.forward(encoder.forward(x));
    const loss = mseLoss(decoder.forward(out.quantized), x).add(out.loss);
    loss.backward();
    opt.step();
    if (step === 0) firstLoss = loss.item();
    lastLoss = loss.item();
  }
  // Individual perplexity from the training-mode probabilities; usage from the eval-mode codes.
  const trainOut = quantizer.forward(encoder.forward(x));
  quantizer.eval();
  const evalOut = quantizer.forward(encoder.forward(x));
  const tracker = new CodeUsageTracker(M);
  tracker.update(evalOut.indices, trainOut.probs ? { probs: trainOut.probs.detach() } : {});
  const r = tracker.result().overall;
  return { usage: r.codeUsage, indiv: r.individualPerplexity, mse: mseLoss(decoder.forward(evalOut.quantized), x).item(), firstLoss, lastLoss };
}

describe('training loop: 8 clusters, M = 16, Adam lr 0.05, 300 steps, K = 2', () => {
  const results = {} as Record<Method, Outcome>;
  let table = '';

  beforeAll(() => {
    for (const method of METHODS) results[method] = train(method, 0);
    table = METHODS.map((m) => `${m.padEnd(11)} usage ${results[m].usage.toFixed(2)}  indiv ${results[m].indiv.toFixed(2)}  mse ${results[m].mse.toFixed(3)}`).join('\n');
    if (process.env.VQ_PRINT_TABLE) console.log(table);
  }, 60_000);

  it('every method trains: a finite loss that went down', () => {
    for (const m of METHODS) {
      const r = results[m];
      expect(Number.isFinite(r.lastLoss), `${m}\n${table}`).toBe(true);
      expect(r.lastLoss, `${m}: loss ${r.firstLoss} → ${r.lastLoss}\n${table}`).toBeLessThan(r.firstLoss);
    }
  });

  it('knn-ce and knn-l2 use every code', () => {
    expect(results['knn-ce'].usage, table).toBe(1);
    expect(results['knn-l2'].usage, table).toBe(1);
  });

  it('knn-ce and knn-l2 keep p near the vertices: lower individual perplexity than perplexity and smooth', () => {
    for (const knn of ['knn-ce', 'knn-l2'] as const) {
      expect(results[knn].indiv, table).toBeLessThan(2.6);
      expect(results[knn].indiv + 1, table).toBeLessThan(results.perplexity.indiv);
      expect(results[knn].indiv + 1, table).toBeLessThan(results.smooth.indiv);
    }
  });

  it('the KNN methods use at least as many codes as every other method', () => {
    for (const m of METHODS) expect(results['knn-ce'].usage, `${m}\n${table}`).toBeGreaterThanOrEqual(results[m].usage);
  });

  it('perplexity reaches high usage, but with p near the centre of the simplex', () => {
    expect(results.perplexity.usage, table).toBeGreaterThanOrEqual(0.75);
    expect(results.perplexity.indiv, table).toBeGreaterThan(3);
  });

  it('smooth (no regularizer) has high individual perplexity, and its hard codes reconstruct worse than knn-ce', () => {
    expect(results.smooth.indiv, table).toBeGreaterThan(3);
    expect(results['knn-ce'].mse * 1.5, table).toBeLessThan(results.smooth.mse);
    expect(results['knn-ce'].mse * 1.5, table).toBeLessThan(results.perplexity.mse);
  });

  it('hard quantizers report individual perplexity 1; gumbel is sharper than smooth', () => {
    for (const m of ['ste', 'ste-ema', 'simvq'] as const) expect(results[m].indiv, table).toBe(1);
    expect(results.gumbel.indiv, table).toBeLessThan(results.smooth.indiv);
  });
});
