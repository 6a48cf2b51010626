/**
 * The tolerance of the distributed check and of the checkpoint round trip: the trajectory check's
 * rule (src/trajectory/check.ts), applied to single results computed from the same weights.
 *
 *   Δ = |ours − torch| / |torch|     (a tensor: max |a − ref| / max |ref| over its elements)
 *   E = the largest such distance from torch's result of PyTorch's own rounding variants of the
 *       same computation (the same rows in another order; the weights moved by one ulp; for
 *       float32, torch's float64 result)
 *   PASS when Δ ≤ FACTOR · E + floor, FACTOR = 4.
 *
 * Why this and not a fixed number. Both engines compute the same function from the same float32
 * weights; they differ only in rounding, and how much rounding moves a result depends on its
 * conditioning, which differs by orders of magnitude between results: the KNN term goes through
 * 1/τ ≈ 2000 (τ is measured in units of the batch's variance by the data initialization) and a
 * nearly one-hot softmax, so its gradients lose far more digits than the decoder's. A fixed
 * tolerance loose enough for the codebook's gradient would let a wrong decoder gradient through.
 * E measures, per result, what rounding does to PyTorch itself; if ours rounded no worse than
 * PyTorch's variants, Δ ≤ 2E would follow from the triangle inequality (both within E of the exact
 * value), and FACTOR = 4 lets ours move up to 3× as far. The floor covers what the variants cannot
 * show (a variant that happens to land on torch's value):
 *   - float32: 128 ulps relative (2⁻¹⁶ ≈ 1.5e-5), the trajectory check's float32 floor, about
 *     √(B·784) ulps at the trajectory's batch: the typical rounding of one mean over the pixels;
 *   - float64: (n − 1)·2⁻⁵³ with n = B·784, the plain-order summation bound of the longest sum
 *     (the trajectory check's resync floor; our CPU backend adds in plain order, PyTorch in blocks).
 * The float64 comparison is the sharp one (is it the same function?); the float32 one is what a
 * user of either engine would see.
 */
import { FACTOR, FLOOR_ULPS, ULP, resyncFloor } from '../trajectory/check.js';

export { FACTOR };
export type Precision = 'float32' | 'float64';

export interface Judged {
  /** What was compared, e.g. 'loss' or 'grad quantizer.codebook'. */
  what: string;
  /** Δ: ours against torch's result. */
  deviation: number;
  /** E: the largest distance of torch's variants from its result. */
  envelope: number;
  /** FACTOR · E + floor. */
  bound: number;
  pass: boolean;
}

export function floorOf(precision: Precision, batch: number): number {
  return precision === 'float32' ? FLOOR_ULPS * ULP.float32 : resyncFloor(batch);
}

/** |a − ref| / |ref| (|a − ref| when ref is 0); NaN gives Infinity, which fails. */
export function relScalar(a: number, ref: number): number {
  const d = Math.abs(a - ref) / (ref === 0 ? 1 : Math.abs(ref));
  return Number.isNaN(d) ? Infinity : d;
}

/** max |a − ref| / max |ref| over the elements (as the trajectory check measures gradients). */
export function relArray(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`cannot compare ${a.length} values with ${ref.length}`);
  let err = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    if (Number.isNaN(d)) return Infinity;
    err = Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return err / (scale > 0 ? scale : 1);
}

/** The rule for one result: Δ of ours, the distances of torch's variants, the floor. */
export function judge(what: string, deviation: number, variants: readonly number[], floor: number): Judged {
  if (variants.length === 0) throw new Error(`${what}: the rule needs at least one rounding variant`);
  const envelope = Math.max(...variants);
  const bound = FACTOR * envelope + floor;
  return { what, deviation, envelope, bound, pass: deviation <= bound };
}

/** The result with the largest Δ / bound (the one nearest to failing). */
export function worstOf(rows: readonly Judged[]): Judged {
  return rows.reduce((w, r) => (r.deviation / r.bound > w.deviation / w.bound ? r : w));
}
