/**
 * Property-based gradient checks of the elementwise ops (unary, binary with broadcasting, where,
 * clamp): shapes and values come from fast-check, gradients are compared with float64 central
 * differences by gradCheck.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  abs, add, clamp, cos, div, erf, exp, gelu, log, maximum, minimum, mul, neg, pow, reciprocal, relu,
  sigmoid, sin, sqrt, square, sub, tanh, where, type Tensor,
} from '../src/index.js';
import { I, RUNS, T, broadcastShapesArb, expectGrad, shapeArb, size, specArb, specOf, valuesArb, valuesAvoidingArb, type Spec } from './helpers.js';

type Unary = (x: Tensor) => Tensor;

/** Each unary op with the domain its values are drawn from (kept off non-differentiable points). */
const UNARY: Array<[string, Unary, (n: number) => fc.Arbitrary<number[]>]> = [
  ['neg', neg, (n) => valuesArb(n)],
  ['exp', exp, (n) => valuesArb(n)],
  ['log', log, (n) => valuesArb(n, 0.1, 3)],
  ['sqrt', sqrt, (n) => valuesArb(n, 0.1, 3)],
  ['abs', abs, (n) => valuesAvoidingArb(n, [0])],
  ['relu', relu, (n) => valuesAvoidingArb(n, [0])],
  ['gelu', gelu, (n) => valuesArb(n, -3, 3)],
  ['sigmoid', sigmoid, (n) => valuesArb(n, -4, 4)],
  ['tanh', tanh, (n) => valuesArb(n)],
  ['erf', erf, (n) => valuesArb(n)],
  ['sin', sin, (n) => valuesArb(n, -4, 4)],
  ['cos', cos, (n) => valuesArb(n, -4, 4)],
  ['square', square, (n) => valuesArb(n)],
  ['reciprocal', reciprocal, (n) => valuesAvoidingArb(n, [0], -2, 2, 0.25)],
  // Method forms, to check the prototype wiring too.
  ['x.exp().sin() (method chain)', (x) => x.exp().sin(), (n) => valuesArb(n, -1, 1)],
  ['x.pow(3) (scalar exponent)', (x) => x.pow(3), (n) => valuesArb(n)],
  ['x.pow(-1.5) (scalar exponent, positive base)', (x) => x.pow(-1.5), (n) => valuesArb(n, 0.3, 2)],
  ['x.pow(0.5) (scalar exponent, positive base)', (x) => x.pow(0.5), (n) => valuesArb(n, 0.3, 2)],
];

describe('gradients of unary ops', () => {
  for (const [name, fn, vals] of UNARY) {
    it(name, () => {
      fc.assert(
        fc.property(specArb(shapeArb(0, 3), vals), (s) => {
          expectGrad(fn, [T(s)]);
        }),
        { numRuns: RUNS },
      );
    });
  }
});

/** Two specs whose shapes broadcast together; values drawn by `va`, `vb`. */
const pairArb = (
  va: (n: number) => fc.Arbitrary<number[]> = (n) => valuesArb(n),
  vb: (n: number) => fc.Arbitrary<number[]> = (n) => valuesArb(n),
) =>
  broadcastShapesArb(2).chain(({ shapes: [sa, sb] }) => fc.tuple(specOf(sa!, va), specOf(sb!, vb)));

type Binary = (a: Tensor, b: Tensor) => Tensor;

/** Integers of one parity plus noise: values of an even set never tie with an odd set. */
const parityArb = (parity: 0 | 1) => (n: number) =>
  fc
    .tuple(
      fc.array(fc.integer({ min: -2, max: 2 }), { minLength: n, maxLength: n }),
      fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: n, maxLength: n }),
    )
    .map(([ks, noise]) => ks.map((k, i) => (2 * k + parity + noise[i]!) * 0.5));

const BINARY: Array<[string, Binary, ReturnType<typeof pairArb>]> = [
  ['add', add, pairArb()],
  ['sub', sub, pairArb()],
  ['mul', mul, pairArb()],
  ['div', div, pairArb(undefined, (n) => valuesAvoidingArb(n, [0], -2, 2, 0.25))],
  ['pow (tensor exponent, positive base)', pow, pairArb((n) => valuesArb(n, 0.3, 2.5), (n) => valuesArb(n, -2, 2))],
  ['maximum', maximum, pairArb(parityArb(0), parityArb(1))],
  ['minimum', minimum, pairArb(parityArb(1), parityArb(0))],
  ['a.sub(b).mul(a) (methods)', (a, b) => a.sub(b).mul(a), pairArb()],
];

describe('gradients of binary ops with broadcasting', () => {
  for (const [name, fn, arb] of BINARY) {
    it(name, () => {
      fc.assert(
        fc.property(arb, ([a, b]) => {
          expectGrad(fn, [T(a), T(b)]);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('ops with a number operand (x op 2, 2 op x)', () => {
    fc.assert(
      fc.property(specArb(shapeArb(0, 3), (n) => valuesAvoidingArb(n, [0], 0.3, 2)), (s) => {
        const x = T(s);
        expectGrad((x) => add(x, 2).mul(3).sub(1), [x]);
        expectGrad((x) => div(2, x), [x]);
        expectGrad((x) => pow(2, x), [x]);
        expectGrad((x) => sub(1, x).div(4), [x]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of where (three-way broadcasting)', () => {
  it('where(cond, a, b)', () => {
    const arb = broadcastShapesArb(3).chain(({ shapes: [sc, sa, sb] }) =>
      fc.tuple(
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: size(sc!), maxLength: size(sc!) }).map((v) => ({ shape: sc!, values: v })),
        specOf(sa!),
        specOf(sb!),
      ),
    );
    fc.assert(
      fc.property(arb, ([c, a, b]) => {
        const cond = I(c.values, c.shape);
        expectGrad((a, b) => where(cond, a, b), [T(a), T(b)]);
        // The method form: a.where(cond, b); a float condition is compared with 0.
        const condF = T(c);
        expectGrad((a, b) => a.where(condF, b), [T(a), T(b)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('where with a number branch', () => {
    fc.assert(
      fc.property(specArb(shapeArb(1, 3)), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), (s: Spec, bits) => {
        const cond = I(s.values.map((_, i) => (bits[i % 64] ? 1 : 0)), s.shape);
        expectGrad((x) => where(cond, x, 0.5), [T(s)]);
        expectGrad((x) => where(cond, -1, x.square()), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of clamp', () => {
  it('clamp(x, min?, max?) away from the bounds', () => {
    const bounds = fc.record({
      min: fc.option(fc.constantFrom(-1, -0.5, 0), { nil: undefined }),
      max: fc.option(fc.constantFrom(0.25, 0.5, 1.5), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        bounds.chain((b) =>
          specArb(shapeArb(0, 3), (n) => valuesAvoidingArb(n, [b.min, b.max].flatMap((v) => (v === undefined ? [] : [v])))).map((s) => ({ b, s })),
        ),
        ({ b, s }) => {
          expectGrad((x) => clamp(x, b.min, b.max), [T(s)]);
          expectGrad((x) => x.clamp(b.min, b.max).mul(x), [T(s)]);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
