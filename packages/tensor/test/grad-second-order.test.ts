/**
 * Double backward for every differentiable op: the first derivative, computed by
 * `backward({ createGraph: true })`, is itself checked by gradCheck against central differences.
 *
 * For an op f with inputs x₁…xₙ, let L = Σ f(x)⊙r (r fixed, random) and
 *   φ(x) = Σᵢ ⟨∂L/∂xᵢ, sᵢ⟩                       (sᵢ fixed, random),
 * a scalar built from the first derivatives. Its gradient is a Hessian-vector product of L, so
 * gradCheck(φ) fails when any op's vjp is not itself differentiable — a vjp that uses a value from
 * the forward pass as a constant (as logSoftmax's once did with softmax(x)), or one written
 * outside the tensor ops. Inputs are kept away from kinks (relu, abs, max) and poles, where second
 * derivatives do not exist.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Generator, abs, add, cat, clamp, conv1d, conv2d, convTranspose2d, cos, div, enableGrad, erf, exp, gelu, log, logSoftmax, logsumexp,
  matmul, max, maximum, mean, min, minimum, mm, mul, neg, pow, reciprocal, relu, sigmoid, sin, softmax, sqrt, square, stack, sub, sum,
  tanh, tensor, variance, where, type Tensor,
} from '../src/index.js';
import { I, T, distinctValuesArb, expectGrad, shapeArb, specArb, specOf, valuesArb, valuesAvoidingArb, type Spec } from './helpers.js';

const RUNS = 8;

/** φ of the header: Σᵢ ⟨∂(Σ f⊙r)/∂xᵢ, sᵢ⟩, with the first derivatives taken with createGraph. */
function firstDerivative(f: (...xs: Tensor[]) => Tensor, seed = 7): (...xs: Tensor[]) => Tensor {
  return (...xs: Tensor[]) =>
    enableGrad(() => {
      // gradCheck passes leaves that require grad for its analytic pass and plain tensors for
      // the numeric one; the first derivative needs leaves either way.
      const leaves = xs.map((x) => (x.dtype !== 'float32' || x.requiresGrad ? x : x.detach().requiresGrad_()));
      const gen = new Generator(seed);
      const random = (like: Tensor) => tensor(Float64Array.from({ length: like.size }, () => gen.normal()), { shape: like.shape });
      const out = f(...leaves);
      const saved = leaves.map((l) => l.grad);
      leaves.forEach((l) => (l.grad = null));
      out.mul(random(out)).sum().backward(undefined, { createGraph: true });
      let phi: Tensor = tensor(0);
      leaves.forEach((l, i) => {
        if (l.dtype === 'float32' && l.grad) phi = phi.add(l.grad.mul(random(l)).sum());
        l.grad = saved[i] ?? null;
      });
      return phi;
    });
}

const expectGrad2 = (f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => expectGrad(firstDerivative(f), inputs, { atol: 1e-4, rtol: 1e-3 });

type Unary = (x: Tensor) => Tensor;
const UNARY: Array<[string, Unary, (n: number) => fc.Arbitrary<number[]>]> = [
  ['neg', neg, (n) => valuesArb(n)],
  ['exp', exp, (n) => valuesArb(n)],
  ['log', log, (n) => valuesArb(n, 0.3, 3)],
  ['sqrt', sqrt, (n) => valuesArb(n, 0.3, 3)],
  ['abs', abs, (n) => valuesAvoidingArb(n, [0])],
  ['relu', relu, (n) => valuesAvoidingArb(n, [0])],
  ['gelu', gelu, (n) => valuesArb(n, -3, 3)],
  ['sigmoid', sigmoid, (n) => valuesArb(n, -4, 4)],
  ['tanh', tanh, (n) => valuesArb(n)],
  ['erf', erf, (n) => valuesArb(n)],
  ['sin', sin, (n) => valuesArb(n, -4, 4)],
  ['cos', cos, (n) => valuesArb(n, -4, 4)],
  ['square', square, (n) => valuesArb(n)],
  ['reciprocal', reciprocal, (n) => valuesAvoidingArb(n, [0], -2, 2, 0.3)],
  ['pow(x, 3)', (x) => pow(x, 3), (n) => valuesArb(n)],
  ['pow(x, -1.5)', (x) => pow(x, -1.5), (n) => valuesArb(n, 0.4, 2)],
];

describe('double backward: unary ops', () => {
  for (const [name, f, vals] of UNARY) {
    it(name, () => {
      fc.assert(fc.property(specArb(shapeArb(0, 2), vals), (s) => expectGrad2(f, [T(s)])), { numRuns: RUNS });
    });
  }
});

/** Integers of one parity plus noise: an even set never ties with an odd set (maximum, minimum). */
const parityArb = (parity: 0 | 1) => (n: number) =>
  fc
    .tuple(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: n, maxLength: n }), fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: n, maxLength: n }))
    .map(([ks, noise]) => ks.map((k, i) => (2 * k + parity + noise[i]!) * 0.5));

type Binary = (a: Tensor, b: Tensor) => Tensor;
const BINARY: Array<[string, Binary, (n: number) => fc.Arbitrary<number[]>, (n: number) => fc.Arbitrary<number[]>]> = [
  ['add', add, (n) => valuesArb(n), (n) => valuesArb(n)],
  ['sub', sub, (n) => valuesArb(n), (n) => valuesArb(n)],
  ['mul', mul, (n) => valuesArb(n), (n) => valuesArb(n)],
  ['div', div, (n) => valuesArb(n), (n) => valuesAvoidingArb(n, [0], -2, 2, 0.3)],
  ['pow (tensor exponent)', pow, (n) => valuesArb(n, 0.4, 2.5), (n) => valuesArb(n, -2, 2)],
  ['maximum', maximum, parityArb(0), parityArb(1)],
  ['minimum', minimum, parityArb(1), parityArb(0)],
];

describe('double backward: binary ops (with broadcasting)', () => {
  for (const [name, f, va, vb] of BINARY) {
    it(name, () => {
      // b broadcasts against a along the leading axis.
      const arb = shapeArb(1, 2, 3).chain((shape) => fc.tuple(specOf(shape, va), specOf(shape.slice(1), vb)));
      fc.assert(fc.property(arb, ([a, b]) => expectGrad2(f, [T(a), T(b)])), { numRuns: RUNS });
    });
  }

  it('where and clamp', () => {
    fc.assert(
      fc.property(specArb(shapeArb(1, 2), (n) => valuesAvoidingArb(n, [-0.5, 0.5])), fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }), (s: Spec, bits) => {
        const cond = I(s.values.map((_, i) => (bits[i % 16] ? 1 : 0)), s.shape);
        expectGrad2((a, b) => where(cond, a.square(), b.exp()), [T(s), T(s)]);
        expectGrad2((x) => clamp(x, -0.5, 0.5).mul(x), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('double backward: reductions, softmax, logSoftmax', () => {
  const caseArb = (vals?: (n: number) => fc.Arbitrary<number[]>) =>
    shapeArb(1, 3, 3).chain((shape) => fc.record({ s: specOf(shape, vals), axis: fc.integer({ min: 0, max: shape.length - 1 }), keepdim: fc.boolean() }));

  it('sum, mean, var (composed with a square, so the second derivative is not zero)', () => {
    fc.assert(
      fc.property(caseArb(), ({ s, axis, keepdim }) => {
        expectGrad2((x) => sum(x.square(), axis, keepdim), [T(s)]);
        expectGrad2((x) => mean(x, axis, keepdim).square(), [T(s)]);
        if (s.shape[axis]! >= 2) expectGrad2((x) => variance(x, axis, { keepdim }), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('max and min (distinct values)', () => {
    fc.assert(
      fc.property(caseArb((n) => distinctValuesArb(n)), ({ s, axis, keepdim }) => {
        expectGrad2((x) => max(x, axis, keepdim).square(), [T(s)]);
        expectGrad2((x) => min(x.exp(), axis, keepdim), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('logsumexp, softmax and logSoftmax along any axis', () => {
    fc.assert(
      fc.property(caseArb(), ({ s, axis, keepdim }) => {
        expectGrad2((x) => logsumexp(x, axis, keepdim), [T(s)]);
        expectGrad2((x) => softmax(x, axis), [T(s)]);
        expectGrad2((x) => logSoftmax(x, axis), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('cross-entropy through logSoftmax (what a training loss differentiates twice)', () => {
    fc.assert(
      fc.property(specArb(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 4 })).map(([n, m]) => [n, m])), (s) => {
        const target = I(Array.from({ length: s.shape[0]! }, (_, i) => i % s.shape[1]!), [s.shape[0]!]);
        expectGrad2((x) => logSoftmax(x, 1).gather(1, target.unsqueeze(1)).neg().mean(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('double backward: matmul and convolutions', () => {
  it('matmul and mm with transposes (bilinear: the mixed second derivatives)', () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([m, k, n]) => fc.tuple(specOf([m, k]), specOf([k, n])));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        expectGrad2((x, y) => matmul(x, y).square(), [T(a), T(b)]);
        expectGrad2((x, y) => mm(x.mT, y.mT, true, true).exp(), [T(a), T(b)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('conv1d, conv2d and convTranspose2d (input and weight)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const g = new Generator(seed);
        const r = (shape: number[]) => T({ shape, values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => g.normal()) });
        expectGrad2((x, w) => conv2d(x, w, null, { stride: 1, padding: 1 }).square(), [r([1, 2, 3, 3]), r([2, 2, 2, 2])]);
        expectGrad2((x, w) => conv1d(x, w, null, { stride: 2 }).square(), [r([1, 2, 5]), r([1, 2, 2])]);
        expectGrad2((x, w) => convTranspose2d(x, w, null, { stride: 2 }).square(), [r([1, 2, 2, 2]), r([2, 1, 2, 2])]);
      }),
      { numRuns: 3 },
    );
  });
});

describe('double backward: shape and indexing ops', () => {
  it('reshape, permute, slice, pad, cat, stack, expand', () => {
    fc.assert(
      fc.property(specOf([2, 3]), specOf([2, 3]), (a, b) => {
        expectGrad2((x) => x.reshape([3, 2]).permute([1, 0]).square(), [T(a)]);
        expectGrad2((x) => x.slice(1, 1, 3).pad([1, 0], 0.5).exp(), [T(a)]);
        expectGrad2((x, y) => x.unsqueeze(0).expand([2, 2, 3]).mul(y).square(), [T(a), T(b)]);
        expectGrad2((x, y) => x.square().mT.matmul(y).sum(0), [T(a), T(b)]);
        expectGrad2((x, y) => cat([x, y.exp()], 1).square(), [T(a), T(b)]);
        expectGrad2((x, y) => stack([x.square(), y], 0).sum(0).exp(), [T(a), T(b)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('gather, indexSelect, scatterAdd, indexAdd, topk', () => {
    fc.assert(
      fc.property(specOf([3, 4], (n) => distinctValuesArb(n)), specOf([2, 4]), (a, b) => {
        const idx = I([2, 0, 2, 1, 0, 1, 1, 2], [2, 4]);
        expectGrad2((x) => x.gather(0, idx).square(), [T(a)]);
        expectGrad2((x) => x.indexSelect(0, I([2, 2, 0])).exp(), [T(a)]);
        expectGrad2((x, y) => x.scatterAdd(0, idx, y.square()).exp(), [T(a), T(b)]);
        expectGrad2((x, y) => x.indexAdd(0, I([1, 1]), y).square(), [T(a), T(b)]);
        expectGrad2((x) => x.topk(2, 1).values.square(), [T(a)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the check can fail', () => {
  it('a vjp that treats a forward value as a constant is caught', () => {
    // exp with its derivative taken from a detached copy: first derivatives right, second wrong.
    const badExp = (x: Tensor) => {
      const y = x.exp();
      return x.mul(0).add(y.detach()).add(x.sub(x.detach()).mul(y.detach()));
    };
    const x = T({ shape: [3], values: [0.1, -0.4, 0.7] });
    expectGrad((v) => badExp(v), [x]); // the first derivative is right...
    const r = () => expectGrad2(badExp, [x]);
    expect(r).toThrow(); // ...the second is not
  });
});
