/**
 * Where the engine must agree with PyTorch at the edges: NaN through relu, gradients of pow at a
 * base of 0, int32 products that overflow, and softmax, logSoftmax and logsumexp over an axis of
 * length 0. Expected values are PyTorch's (torch 1.13, checked by hand).
 */
import { describe, expect, it } from 'vitest';
import { logSoftmax, logsumexp, pow, relu, softmax, tensor, zeros } from '../src/index.js';

const arr = (t: { data(): ArrayLike<number> }) => Array.from(t.data());

describe('edge semantics (as PyTorch)', () => {
  it('relu(NaN) is NaN; relu(±Inf) is Inf / 0', () => {
    expect(arr(relu(tensor([NaN, Infinity, -Infinity, -0.5, 0.5])))).toEqual([NaN, Infinity, 0, 0, 0.5]);
  });

  it('pow: gradients at a base of 0 are 0 where PyTorch gives 0, not NaN', () => {
    // d/da a^b at a = 0: b·a^(b−1) = 2·0 = 0 for b = 2; 0 for b = 0 (not 0·0⁻¹ = NaN).
    const a = tensor([0, 0, 2], { requiresGrad: true });
    const b = tensor([2, 0, 3], { requiresGrad: true });
    pow(a, b).sum().backward();
    expect(arr(a.grad!)).toEqual([0, 0, 12]);
    // d/db a^b = a^b·log a: at a = 0 with b ≥ 0, 0 (not 0·(−∞) = NaN).
    expect(arr(b.grad!)[0]).toBe(0);
    expect(arr(b.grad!)[1]).toBe(0);
    expect(arr(b.grad!)[2]).toBeCloseTo(8 * Math.log(2), 5);
  });

  it('int32 products wrap modulo 2^32, exactly', () => {
    const x = tensor(Int32Array.from([2147483647, 123456789, -65536]), { shape: [3] });
    const y = tensor(Int32Array.from([2147483647, 987654321, 65536]), { shape: [3] });
    expect(arr(x.mul(y))).toEqual([Math.imul(2147483647, 2147483647), Math.imul(123456789, 987654321), Math.imul(-65536, 65536)]);
  });

  it('softmax and logSoftmax over an empty axis give an empty tensor; logsumexp gives −∞', () => {
    const e = zeros([3, 0]).requiresGrad_();
    expect(softmax(e, 1).shape).toEqual([3, 0]);
    expect(logSoftmax(e, 1).shape).toEqual([3, 0]);
    const l = logsumexp(e, 1);
    expect(l.shape).toEqual([3]);
    expect(arr(l)).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(logsumexp(e, 1, true).shape).toEqual([3, 1]);
    // Along the other axis nothing is empty per row: an empty result.
    expect(logsumexp(e, 0).shape).toEqual([0]);
    softmax(e, 1).sum().add(logsumexp(zeros([2, 0]).requiresGrad_(), 1).sum()).backward();
    expect(e.grad!.shape).toEqual([3, 0]);
  });
});
