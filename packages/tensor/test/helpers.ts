/**
 * Shared test helpers: fast-check arbitraries for shapes and values, a gradCheck assertion, and
 * small index utilities for the naive reference implementations the tests compare against.
 *
 * Arbitraries produce plain data (`Spec` = shape + values), never Tensors, so fast-check prints
 * readable counterexamples; tests build tensors with `T(spec)`.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { gradCheck, tensor, type Axes, type GradCheckOptions, type Tensor } from '../src/index.js';

/** Default number of runs of a gradient-check property (small tensors, float64 differences). */
export const RUNS = 20;

export interface Spec {
  shape: number[];
  values: number[];
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A float32 tensor from a spec (optionally requiring grad). */
export function T(s: Spec, requiresGrad = false): Tensor {
  return tensor(Float32Array.from(s.values), { shape: s.shape, requiresGrad });
}

/** An int32 tensor of the given shape. */
export function I(values: readonly number[], shape: readonly number[] = [values.length]): Tensor {
  return tensor(Int32Array.from(values), { shape });
}

export const dimArb = (max = 4) => fc.integer({ min: 1, max });

export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 4) =>
  fc.array(dimArb(maxDim), { minLength: minRank, maxLength: maxRank });

/** `n` doubles in [min, max]. */
export const valuesArb = (n: number, min = -2, max = 2) =>
  fc.array(fc.double({ min, max, noNaN: true }), { minLength: n, maxLength: n });

/**
 * `n` doubles in [min, max], none closer than `gap` to any of `avoid` (points of
 * non-differentiability): offending values are pushed to distance 2·gap.
 */
export const valuesAvoidingArb = (n: number, avoid: readonly number[], min = -2, max = 2, gap = 0.05) =>
  valuesArb(n, min, max).map((vs) =>
    vs.map((v) => {
      for (const p of avoid) {
        if (Math.abs(v - p) < gap) return p + (v >= p ? 2 * gap : -2 * gap);
      }
      return v;
    }),
  );

/**
 * `n` pairwise distinct values: a shuffled arange, plus noise below a third of the spacing,
 * scaled. Consecutive values differ by at least scale/3, so no ties for max/min/topk.
 */
export const distinctValuesArb = (n: number, scale = 0.5) =>
  fc
    .tuple(
      fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      ),
      fc.array(fc.double({ min: -1 / 3, max: 1 / 3, noNaN: true }), { minLength: n, maxLength: n }),
    )
    .map(([perm, noise]) => perm.map((p, i) => (p - n / 2 + noise[i]!) * scale));

/** A spec of the given shape with values from `vals`. */
export const specOf = (shape: number[], vals: (n: number) => fc.Arbitrary<number[]> = (n) => valuesArb(n)) =>
  vals(size(shape)).map((values): Spec => ({ shape, values }));

/** A spec of a random shape. */
export const specArb = (shape: fc.Arbitrary<number[]> = shapeArb(), vals?: (n: number) => fc.Arbitrary<number[]>) =>
  shape.chain((s) => specOf(s, vals));

/** The NumPy broadcast of shapes (which the caller knows to be compatible). */
export function broadcastOf(shapes: ReadonlyArray<readonly number[]>): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) s.forEach((d, i) => (out[rank - s.length + i] = Math.max(out[rank - s.length + i]!, d)));
  return out;
}

/**
 * `count` shapes that broadcast together, and their broadcast `out`: each is a suffix of a random
 * shape with some sizes replaced by 1.
 */
export const broadcastShapesArb = (count: number, maxRank = 3, maxDim = 3) =>
  shapeArb(0, maxRank, maxDim).chain((full) =>
    fc
      .tuple(
        ...Array.from({ length: count }, () =>
          fc
            .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
            .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))),
        ),
      )
      .map((shapes) => ({ out: broadcastOf(shapes), shapes })),
  );

/** Asserts that gradCheck passes, with its message on failure. */
export function expectGrad(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts?: GradCheckOptions): void {
  const r = gradCheck(fn, inputs, opts);
  expect(r.ok, r.message).toBe(true);
}

/** Asserts |a − e| ≤ atol + rtol·|e| elementwise, with the first mismatch in the message. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const ok = Object.is(a, e) || Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`${what} element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** The multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}

/** The flat position of a multi-index in `shape`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let d = 0; d < shape.length; d++) f = f * shape[d]! + idx[d]!;
  return f;
}

/** Float32 rounding of a double array (what a float32 tensor stores). */
export const f32 = (vs: readonly number[]): number[] => Array.from(Float32Array.from(vs));

/**
 * Axes for a tensor of `rank`: undefined (all axes), one axis, or a list of distinct axes; each
 * axis is written as a non-negative or a negative number at random.
 */
export const axesArb = (rank: number): fc.Arbitrary<Axes | undefined> => {
  if (rank === 0) return fc.constant(undefined);
  const axis = (a: number) => fc.boolean().map((negative) => (negative ? a - rank : a));
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: rank - 1 }).chain(axis),
    fc.shuffledSubarray(all, { minLength: 1, maxLength: rank }).chain((as) => fc.tuple(...as.map(axis))),
  );
};
