/** Losses against their formulas computed in float64 by hand, reductions, edge cases, and gradients. */
import { describe, expect, it } from 'vitest';
import { Generator, enableGrad, gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { binaryCrossEntropyWithLogits, cosineSimilarity, crossEntropy, mseLoss } from '../src/index.js';
import { expectClose, flat, randT } from './helpers.js';

const labels = (v: number[], shape = [v.length]) => tensor(Int32Array.from(v), { shape });

/** −log softmax(row)[c], in float64. */
function nll(row: number[], c: number): number {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return lse - row[c]!;
}

const rows = (x: Tensor): number[][] => x.toArray() as number[][];

describe('mseLoss', () => {
  it('mean, sum and none of (input − target)²', () => {
    const a = tensor([[1, 2], [3, 4]]), b = tensor([[0, 2], [5, 1]]);
    expect(mseLoss(a, b).item()).toBeCloseTo((1 + 0 + 4 + 9) / 4, 6);
    expect(mseLoss(a, b, { reduction: 'sum' }).item()).toBeCloseTo(14, 6);
    expect(flat(mseLoss(a, b, { reduction: 'none' }))).toEqual([1, 0, 4, 9]);
    expect(() => mseLoss(a, tensor([1, 2]))).toThrow(/same shape/);
  });
});

describe('crossEntropy', () => {
  const logits = randT([4, 3], 0, 2);
  const y = [2, 0, 1, 2];

  it('equals mean −log softmax at the label', () => {
    const expected = rows(logits).map((r, i) => nll(r, y[i]!));
    expectClose(flat(crossEntropy(logits, labels(y), { reduction: 'none' })), expected, 1e-6, 1e-5);
    expect(crossEntropy(logits, labels(y)).item()).toBeCloseTo(expected.reduce((a, b) => a + b) / 4, 5);
    expect(crossEntropy(logits, labels(y), { reduction: 'sum' }).item()).toBeCloseTo(expected.reduce((a, b) => a + b), 5);
  });

  it('label smoothing ε: (1 − ε)·nll + ε·mean over classes of −log p', () => {
    const eps = 0.2;
    const expected = rows(logits).map((r, i) => (1 - eps) * nll(r, y[i]!) + (eps / 3) * [0, 1, 2].reduce((s, c) => s + nll(r, c), 0));
    expectClose(flat(crossEntropy(logits, labels(y), { reduction: 'none', labelSmoothing: eps })), expected, 1e-6, 1e-5);
  });

  it('ignoreIndex drops those targets from the sum and the mean', () => {
    const z = [2, -100, 1, -100];
    const kept = [0, 2].map((i) => nll(rows(logits)[i]!, z[i]!));
    expect(crossEntropy(logits, labels(z), { ignoreIndex: -100 }).item()).toBeCloseTo((kept[0]! + kept[1]!) / 2, 5);
    expect(flat(crossEntropy(logits, labels(z), { ignoreIndex: -100, reduction: 'none' }))[1]).toBe(0);
  });

  it('takes classes on axis 1 for [N, C, d] inputs, and probability targets', () => {
    const x = randT([2, 3, 4], 1); // N = 2, C = 3, d = 4
    const t = [0, 1, 2, 1, 2, 2, 0, 1];
    const xs = x.toArray() as number[][][];
    const expected: number[] = [];
    for (let n = 0; n < 2; n++) for (let d = 0; d < 4; d++) expected.push(nll([0, 1, 2].map((c) => xs[n]![c]![d]!), t[n * 4 + d]!));
    const out = crossEntropy(x, labels(t, [2, 4]), { reduction: 'none' });
    expect(out.shape).toEqual([2, 4]);
    expectClose(flat(out), expected, 1e-6, 1e-5);
    // A one-hot probability target gives the same as the index target.
    const onehot = labels(y).oneHot(3, 'float32');
    expect(crossEntropy(logits, onehot).item()).toBeCloseTo(crossEntropy(logits, labels(y)).item(), 6);
  });

  it('is stable for huge logits and checks its inputs', () => {
    expect(crossEntropy(tensor([[1000, 0, -1000]]), labels([0])).item()).toBeCloseTo(0, 6);
    expect(crossEntropy(tensor([[1000, 0, -1000]]), labels([1])).item()).toBeCloseTo(1000, 2);
    expect(() => crossEntropy(logits, labels([0, 1, 2, 3]))).toThrow(/class 3 is out of range/);
    expect(() => crossEntropy(logits, labels([0, 1]))).toThrow(/target \[2\] must be \[4\]/);
    expect(() => crossEntropy(logits, labels(y), { labelSmoothing: 2 })).toThrow(/labelSmoothing/);
  });

  it('has the right gradient (softmax − onehot, smoothed, with ignored rows)', () => {
    const t = labels([2, 0, -1, 1]);
    const r = gradCheck((x) => crossEntropy(x, t, { labelSmoothing: 0.1, ignoreIndex: -1 }), [logits]);
    expect(r.ok, r.message).toBe(true);
    const x = logits.detach().requiresGrad_();
    crossEntropy(x, labels(y)).backward();
    const p = rows(logits.softmax(-1));
    expectClose(flat(x.grad!), p.flatMap((row, i) => row.map((v, c) => (v - (c === y[i] ? 1 : 0)) / 4)), 1e-6, 1e-5);
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  it('equals −[y log σ(x) + (1 − y) log(1 − σ(x))]', () => {
    const xs = [-2, -0.5, 0, 0.7, 3], ys = [0, 1, 0.3, 1, 0];
    const expected = xs.map((x, i) => -(ys[i]! * Math.log(sig(x)) + (1 - ys[i]!) * Math.log(1 - sig(x))));
    expectClose(flat(binaryCrossEntropyWithLogits(tensor(xs), tensor(ys), { reduction: 'none' })), expected, 1e-6, 1e-5);
    expect(binaryCrossEntropyWithLogits(tensor(xs), tensor(ys)).item()).toBeCloseTo(expected.reduce((a, b) => a + b) / 5, 5);
  });

  it('posWeight scales the positive term', () => {
    const xs = [-1, 0.5, 2], ys = [1, 0, 1];
    const w = 3;
    const expected = xs.map((x, i) => -(w * ys[i]! * Math.log(sig(x)) + (1 - ys[i]!) * Math.log(1 - sig(x))));
    expectClose(flat(binaryCrossEntropyWithLogits(tensor(xs), tensor(ys), { reduction: 'none', posWeight: w })), expected, 1e-6, 1e-5);
  });

  it('is finite for logits of ±100 and accepts int32 targets', () => {
    const l = binaryCrossEntropyWithLogits(tensor([100, -100]), tensor(Int32Array.from([0, 1])), { reduction: 'none' });
    expectClose(flat(l), [100, 100], 1e-3, 1e-6);
  });

  it('has the right gradient, σ(x) − y', () => {
    const x = randT([6], 2, 2);
    const t = tensor([0, 1, 1, 0, 0.5, 1]);
    const r = gradCheck((x) => binaryCrossEntropyWithLogits(x, t, { posWeight: 2 }), [x]);
    expect(r.ok, r.message).toBe(true);
    const xg = x.detach().requiresGrad_();
    binaryCrossEntropyWithLogits(xg, t, { reduction: 'sum' }).backward();
    expectClose(flat(xg.grad!), flat(x).map((v, i) => sig(v) - flat(t)[i]!), 1e-6, 1e-5);
  });
});

describe('cosineSimilarity', () => {
  it('is x·y / (‖x‖‖y‖) along dim, and 0 for a zero vector', () => {
    const a = tensor([[1, 0, 0], [1, 2, 3], [0, 0, 0]]), b = tensor([[0, 1, 0], [2, 4, 6], [1, 1, 1]]);
    expectClose(flat(cosineSimilarity(a, b)), [0, 1, 0], 1e-6, 1e-6);
    const x = randT([3, 4], 3), y = randT([3, 4], 4);
    const xs = rows(x), ys = rows(y);
    const expected = xs.map((r, i) => {
      const dot = r.reduce((s, v, j) => s + v * ys[i]![j]!, 0);
      return dot / Math.hypot(...r) / Math.hypot(...ys[i]!);
    });
    expectClose(flat(cosineSimilarity(x, y)), expected, 1e-6, 1e-5);
    expectClose(flat(cosineSimilarity(x.transpose(0, 1), y.transpose(0, 1), { dim: 0 })), expected, 1e-6, 1e-5);
  });

  it('has the right gradient, finite even at a zero vector', () => {
    const r = gradCheck((x, y) => cosineSimilarity(x, y), [randT([2, 3], 5), randT([2, 3], 6)]);
    expect(r.ok, r.message).toBe(true);
    const z = tensor([[0, 0, 0]]).requiresGrad_();
    cosineSimilarity(z, tensor([[1, 2, 3]])).sum().backward();
    expect(flat(z.grad!).every(Number.isFinite)).toBe(true);
  });
});

describe('crossEntropy: second derivatives', () => {
  it('the gradient of the loss is itself differentiable (checked by gradCheck of ⟨∇L, s⟩)', () => {
    const target = tensor(Int32Array.from([2, 0, 1]), { shape: [3] });
    // φ(x) = ⟨∂L/∂x, s⟩ for a fixed random s: its gradient is a Hessian-vector product of L.
    const phi = (x: Tensor) =>
      enableGrad(() => {
        const leaf = x.requiresGrad ? x : x.detach().requiresGrad_();
        const saved = leaf.grad;
        leaf.grad = null;
        crossEntropy(leaf, target).backward(undefined, { createGraph: true });
        const g = new Generator(3);
        const s = tensor(Float64Array.from({ length: leaf.size }, () => g.normal()), { shape: leaf.shape });
        const out = leaf.grad!.mul(s).sum();
        leaf.grad = saved;
        return out;
      });
    const r = gradCheck(phi, [randT([3, 4], 5)], { atol: 1e-4, rtol: 1e-3 });
    expect(r.ok, r.message).toBe(true);
  });
});
