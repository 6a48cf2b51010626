import { describe, expect, it } from 'vitest';
import { tensor, gradCheck, randn, manualSeed, conv2d, matmul } from '../src/index.js';

describe('smoke', () => {
  it('adds and backprops', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward();
    expect(y.item()).toBe(30);
    expect(x.grad!.toArray()).toEqual([[2, 4], [6, 8]]);
  });
  it('gradchecks matmul and conv', () => {
    manualSeed(1);
    const a = randn([3, 4]), b = randn([4, 5]);
    expect(gradCheck((a, b) => matmul(a, b), [a, b]).ok).toBe(true);
    const x = randn([2, 3, 5, 5]), w = randn([4, 3, 3, 3]), bias = randn([4]);
    const r = gradCheck((x, w, b) => conv2d(x, w, b, { stride: 2, padding: 1 }), [x, w, bias]);
    expect(r.message).toContain('passed');
  });
});
