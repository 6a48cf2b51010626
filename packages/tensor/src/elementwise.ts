/**
 * What every elementwise op of the Backend interface computes, for every input — NaN, ±Inf and
 * ±0 included — stated once, as plain functions on numbers.
 *
 * These functions are both the reference and, on the CPU backend, the code that runs:
 * - cpu/strided-kernel.ts compiles each function's body (the expression after `=>`) into a
 *   specialized loop, or calls the function itself from a plain loop where code cannot be
 *   compiled (a page whose Content-Security-Policy forbids eval);
 * - a backend that writes its own code (gpu.js: GLSL) is checked against them on SPECIAL_VALUES
 *   by its parity suite (@simplex-vq/backend-gpujs, src/parity.ts);
 * - test/elementwise.test.ts checks the CPU backend against them on arbitrary doubles.
 *
 * Dtypes: the functions compute in float64. An op in float32 gives the float64 result of the
 * float32 inputs, rounded to float32; in int32, the result wrapped to 32 bits, with INT32_OPS
 * where float64 would lose the low bits first (`reference` applies these rules).
 *
 * The rules at the edges follow PyTorch, or, where PyTorch has an acknowledged bug, the fix it is
 * heading to (NumPy's answer):
 * - NaN in, NaN out, for every arithmetic op: relu, abs, sign, maximum and minimum (and so clamp,
 *   built from them) included. torch.sign(NaN) is 0 today (pytorch/pytorch#41245); here NaN.
 * - Comparisons with NaN are false, except ne, which is true; isFinite(NaN) = 0.
 * - ±Inf as IEEE 754 arithmetic: exp(−Inf) = 0, log(0) = −Inf, log(x < 0) = NaN, sqrt(−1) = NaN,
 *   1/±0 = ±Inf, 0/0 = NaN, Inf − Inf = NaN, 0·Inf = NaN, sigmoid(±Inf) = 1 and 0,
 *   tanh(±Inf) = ±1, erf(±Inf) = ±1, sin and cos of ±Inf are NaN.
 * - gelu(+Inf) = +Inf and gelu(−Inf) = 0, the limits (x·Φ(x) would be −Inf·0 = NaN, which PyTorch
 *   gives today: pytorch/pytorch#187293).
 * - pow is C's pow (torch.pow's), which differs from JavaScript's Math.pow in two places:
 *   pow(1, y) = 1 for every y, NaN included, and pow(−1, ±Inf) = 1. Otherwise as Math.pow:
 *   pow(x, ±0) = 1 even for x = NaN, pow(±0, y < 0) = Inf, pow(x < 0, non-integer) = NaN.
 * - The sign of a zero result is IEEE's here, but backends are not held to it (a GPU need not keep
 *   −0); maximum and minimum of +0 and −0 may give either.
 *
 * erf is the Numerical Recipes fit below (fractional error < 1.2e-7): the engine's erf, and gelu's.
 *
 * Writing a function here: a single arrow `(x) => expression` (or `(x, y) => …`) that uses only its
 * parameters, Math, Number, and erf. The CPU backend compiles its source text, and checks the
 * compiled loop against the function on SPECIAL_VALUES before using it.
 *
 * At the end: the NaN and ±Inf rules of the reductions (max, min, argmax, argmin) and of topk's
 * order, with reference functions for one row (referenceReduce, referenceTopk).
 */
import type { BinaryOp, DType, ReduceOp, UnaryOp } from './backend.js';

/** The Numerical Recipes erfc fit, for z ≥ 0. */
function erfcFit(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return (
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}
// The fit gives erfc(0) = e^(3e-8), not 1: divided out so erf(0) = 0 and erf is continuous at 0
// (otherwise erf(x) < 0 for tiny x > 0 and its numeric derivative at 0 is off by 3%).
const ERFC_FIT_AT_0 = erfcFit(0);

/** erf of a number (NaN → NaN, ±Inf → ±1). */
export function erf(x: number): number {
  const r = erfcFit(Math.abs(x)) / ERFC_FIT_AT_0;
  return x >= 0 ? 1 - r : r - 1;
}

// expf32's tables: 2^(j/32) for j = 0 … 31, and 2^e for e = −160 … 140.
const EXP2_FRACTION = Float64Array.from({ length: 32 }, (_, j) => 2 ** (j / 32));
const EXP2_INTEGER = Float64Array.from({ length: 301 }, (_, i) => 2 ** (i - 160));

/**
 * exp(x) rounded to float32 — exactly Math.fround(Math.exp(x)), for every x — at about half the
 * cost of Math.exp, which is the most expensive elementwise op of a training step (softmax and
 * logSoftmax of [N, M] logits). The CPU backend runs it for exp on float32 storage (FLOAT32_OPS).
 *
 * y approximates eˣ in float64 to a relative error below 1.3e-12: x = k·ln2/32 + r with
 * |r| ≤ ln2/64, eʳ by its Taylor polynomial to r⁴ (the remainder, r⁵/120 < 1.25e-12, dominates),
 * 2^(k/32) from the tables. Rounding is monotonic, so if y·(1 − 2⁻³⁸) and y·(1 + 2⁻³⁸) (2⁻³⁸ ≈ 3.6e-12) round to the
 * same float32, so does every value between them — eˣ, and Math.exp(x), which is within a double
 * ulp of it — and that float32 is the answer. Otherwise (y within 3.6e-12 of a halfway point
 * between two float32 values, about one input in 10⁴) and outside (−104, 89), where the result
 * is 0, a subnormal near 0, ±Inf or NaN, Math.exp decides. Tested on millions of float32 inputs.
 */
export function expf32(x: number): number {
  if (!(x > -104 && x < 89)) return Math.fround(Math.exp(x)); // NaN, ±Inf, the ends of the range
  const t = x * 46.16624130844683 + 6755399441055744; // x·32/ln2, rounded to an integer by the 1.5·2⁵² shift
  const k = t - 6755399441055744;
  const r = x - k * 0.02166084939249829; // ln2/32
  const p = 1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * 0.041666666666666664)));
  const ki = k | 0, j = ki & 31;
  const y = p * EXP2_FRACTION[j]! * EXP2_INTEGER[(ki >> 5) + 160]!;
  const lo = Math.fround(y * 0.999999999996362); // y·(1 − 2⁻³⁸)
  return lo === Math.fround(y * 1.000000000003638) ? lo : Math.fround(Math.exp(x)); // y·(1 + 2⁻³⁸)
}

/** Helpers that the functions below may call; compiled loops receive them by these names. */
export const HELPERS = { erf, expf32 } as const;

export type UnaryFn = (x: number) => number;
export type BinaryFn = (x: number, y: number) => number;

export const UNARY_OPS: Readonly<Record<UnaryOp, UnaryFn>> = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  abs: (x) => Math.abs(x),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === x ? 0 : NaN),
  relu: (x) => (x > 0 || x !== x ? x : 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
  erf: (x) => erf(x),
  gelu: (x) => (x === -Infinity ? 0 : 0.5 * x * (1 + erf(x * Math.SQRT1_2))),
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  floor: (x) => Math.floor(x),
  isFinite: (x) => (Number.isFinite(x) ? 1 : 0),
};

export const BINARY_OPS: Readonly<Record<BinaryOp, BinaryFn>> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  // Math.pow, but where |x| = 1 and y is NaN or ±Inf, C's answer: 1, except pow(−1, NaN) = NaN.
  pow: (x, y) => (Number.isFinite(y) || Math.abs(x) !== 1 ? Math.pow(x, y) : x === 1 || y === y ? 1 : NaN),
  maximum: (x, y) => (x > y || x !== x ? x : y),
  minimum: (x, y) => (x < y || x !== x ? x : y),
  eq: (x, y) => (x === y ? 1 : 0),
  ne: (x, y) => (x !== y ? 1 : 0),
  lt: (x, y) => (x < y ? 1 : 0),
  le: (x, y) => (x <= y ? 1 : 0),
  gt: (x, y) => (x > y ? 1 : 0),
  ge: (x, y) => (x >= y ? 1 : 0),
};

/**
 * int32 variants: products wrap modulo 2^32 as in int32 arithmetic (x·y in float64 loses the low
 * bits once |x·y| passes 2^53; Math.imul does not). Every other int32 op is its float function
 * with the result wrapped (exact, since sums and differences of int32 values stay below 2^53).
 */
export const INT32_OPS: Readonly<Partial<Record<UnaryOp | BinaryOp, UnaryFn | BinaryFn>>> = {
  mul: (x: number, y: number) => Math.imul(x, y),
  square: (x: number) => Math.imul(x, x),
};

/** where(cond, a, b) elementwise: a where cond is non-zero (cond is int32, never NaN). */
export const WHERE_OP = (c: number, a: number, b: number): number => (c !== 0 ? a : b);

/** Ops whose result is int32 0/1 whatever the dtype of their inputs. */
export const INT32_RESULT = new Set<UnaryOp | BinaryOp>(['isFinite', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/**
 * float32 variants: functions whose results on float32 inputs, rounded to float32, are exactly
 * those of the function in UNARY_OPS rounded to float32, computed faster. A backend storing
 * float32 may run them (the CPU backend does; not on its float64 precision).
 */
export const FLOAT32_OPS: Readonly<Partial<Record<UnaryOp, UnaryFn>>> = {
  exp: (x) => expf32(x),
};

/** The function a backend runs for `op` on `dtype`. */
export function unaryFn(op: UnaryOp, dtype: DType | 'float64' = 'float32'): UnaryFn {
  return (dtype === 'int32' ? (INT32_OPS[op] as UnaryFn | undefined) : undefined) ?? UNARY_OPS[op];
}

export function binaryFn(op: BinaryOp, dtype: DType | 'float64' = 'float32'): BinaryFn {
  return (dtype === 'int32' ? (INT32_OPS[op] as BinaryFn | undefined) : undefined) ?? BINARY_OPS[op];
}

const round = {
  float64: (v: number) => v,
  float32: Math.fround,
  int32: (v: number) => v | 0,
};

/**
 * The value `op` gives on inputs stored in `dtype` ('float64': the CPU backend's float64
 * precision): inputs rounded to the dtype, the function applied, the result rounded to the dtype
 * of the output (int32 0/1 for comparisons and isFinite).
 */
export function reference(op: UnaryOp | BinaryOp, dtype: DType | 'float64', x: number, y = 0): number {
  const r = round[dtype];
  const outRound = INT32_RESULT.has(op) ? round.int32 : r;
  if (op in UNARY_OPS) return outRound(unaryFn(op as UnaryOp, dtype)(r(x)));
  return outRound(binaryFn(op as BinaryOp, dtype)(r(x), r(y)));
}

/**
 * The inputs every backend is checked on: NaN, ±Inf, ±0, ±1 (pow's special bases), small and
 * large magnitudes within float32's normal range, values where exp overflows float32 and where
 * erf and tanh saturate, and ordinary negatives and fractions. (float32 subnormals are left out:
 * GPUs may flush them to zero.)
 */
export const SPECIAL_VALUES: readonly number[] = [
  NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -0.5, 2, -2.5, 3, -3, 1e-30, -1e-30, 1e30, -1e30, 100, -100,
];

/**
 * Whether `got` is what `want` promises: the same NaN-ness, the same infinity, and for finite
 * values |got − want| ≤ tol·max(1, |want|) (tol 0: equal, with +0 and −0 equal).
 */
export function agrees(got: number, want: number, tol = 0): boolean {
  if (want !== want) return got !== got;
  if (want === Infinity || want === -Infinity) return got === want;
  if (!Number.isFinite(got)) return false;
  return got === want || Math.abs(got - want) <= tol * Math.max(1, Math.abs(want));
}

/*
 * Reductions and top-k: the rules, stated once. PyTorch's (torch 1.13, checked by hand); the
 * functions below are the reference that the tests and the gpu.js parity suite hold backends to.
 *
 * - max, min, argmax, argmin along an axis: NaN propagates. A row holding a NaN gives NaN, at the
 *   position of its first NaN (torch: max([1, NaN, 3, −Inf]) = NaN, argmax = argmin = 1). Otherwise
 *   the largest (smallest) value, ±Inf included, at its first occurrence (ties: the lower index;
 *   +0 and −0 are equal). An all-NaN row gives NaN at 0.
 * - topk (and any sort the engine gains) orders by value with NaN counted as larger than +Inf:
 *   NaN ranks first for largest = true and last for largest = false (torch: topk([1, NaN, 3, −Inf],
 *   2) = [NaN, 3] at [1, 2]; smallest: [−Inf, 1] at [3, 0]). Equal values (several NaNs, ±Inf
 *   repeated, +0 and −0) keep index order, the lower index first: the order of
 *   torch.sort(stable=True). torch.topk itself leaves the order of equal values unspecified (its
 *   CPU kernel returns them in varying orders), so a tie order here is never a disagreement.
 * - Gradients follow from the ops (ops/reduce.ts, ops/indexing.ts): max/min share the gradient
 *   among the entries equal to the result, so a NaN row gets NaN gradients (as torch.amax); topk's
 *   selected entries, NaN included, get their own.
 */

/** Whether value u ranks strictly ahead of v in topk's order (NaN is larger than +Inf). */
export const RANKS_BEFORE: Readonly<Record<'largest' | 'smallest', BinaryPredicate>> = {
  largest: (u, v) => u > v || (u !== u && v === v),
  smallest: (u, v) => u < v || (v !== v && u === u),
};
export type BinaryPredicate = (u: number, v: number) => boolean;

/** The position argmax (argmin) gives along `row`: the first NaN if any, else the first largest (smallest). */
export function referenceArgExtreme(op: 'argmax' | 'argmin', row: ArrayLike<number>): number {
  if (row.length === 0) throw new RangeError(`${op} of an empty row`);
  let best = 0;
  for (let i = 1; i < row.length; i++) {
    const v = row[i]!, cur = row[best]!;
    if (cur !== cur) break;
    if (v !== v || (op === 'argmax' ? v > cur : v < cur)) best = i;
  }
  return best;
}

/** What reduce(op) gives on one row (max, min: the value; argmax, argmin: the position). */
export function referenceReduce(op: Exclude<ReduceOp, 'sum'>, row: ArrayLike<number>): number {
  const at = referenceArgExtreme(op === 'max' || op === 'argmax' ? 'argmax' : 'argmin', row);
  return op === 'argmax' || op === 'argmin' ? at : row[at]!;
}

/** topk of one row: the k first entries in RANKS_BEFORE's order, equal values in index order. */
export function referenceTopk(row: ArrayLike<number>, k: number, largest = true): { values: number[]; indices: number[] } {
  if (!(Number.isInteger(k) && k >= 0 && k <= row.length)) throw new RangeError(`k = ${k} for a row of ${row.length}`);
  const before = RANKS_BEFORE[largest ? 'largest' : 'smallest'];
  // Array.prototype.sort is stable: equal values stay in index order.
  const order = Array.from({ length: row.length }, (_, i) => i).sort((i, j) => (before(row[i]!, row[j]!) ? -1 : before(row[j]!, row[i]!) ? 1 : 0));
  const indices = order.slice(0, k);
  return { values: indices.map((i) => row[i]!), indices };
}
