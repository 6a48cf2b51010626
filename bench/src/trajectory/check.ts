/**
 * The rules of the trajectory check. One rule, applied to two questions: our result must differ
 * from PyTorch's by no more than a few times what rounding alone does to PyTorch's own result,
 * measured in the same run, plus a floor for what the variants cannot show:
 *
 *   Δ = |ours − torch| / |torch|        E = the largest |v − torch| / |torch| over torch's rounding variants v
 *   PASS when Δ ≤ FACTOR · E + floor
 *
 * A rounding variant is the same math computed with different rounding: the same batch with its
 * images in another order (each term of the loss is a mean over the batch or per row, and KNN's
 * top-K over rows ignores their order: only the order of the additions changes), the same start
 * with every weight moved by one unit in the last place (up or down at random: how much
 * rounding-size changes of the inputs move the result), and, for float32, PyTorch's float64 run.
 * If our rounding moved the result no further than torch's variants do, Δ ≤ 2E would hold by the
 * triangle inequality (both within E of the exact result); FACTOR = 4 lets ours move up to 3× as
 * far. Results are relative; for a gradient, max |g − ref| / max |ref| over the parameter's elements.
 *
 * **Is it the same math? (float64, resynchronized.)** At steps 1, every, 2·every, …, our float64
 * run's state (the weights before the step) goes to PyTorch, which computes the loss and every
 * gradient on that step's batch in float64, plus the two variants of that computation. Same state,
 * same batch: only rounding differs, so the rule holds for the loss and each parameter's gradient
 * at each sampled step, or the two engines compute different functions. E is per result because
 * conditioning differs: most gradients round to ~1e-15, knn-ce's (through 1/τ ≈ 2000 and a
 * near-one-hot softmax) to ~1e-13, and ste's codebook gradient at step 1 — each k-means centre is
 * the mean of its rows, so Σ(e_k − z_i) cancels to rounding — to ~1e-8. The floor is the textbook
 * bound for a sum of n terms added in plain order, (n − 1)·u relative to Σ|terms| (u = 2⁻⁵³), with n
 * the batch's pixels (25,088 at batch 32: 2.8e-12), the model's longest reduction. Our CPU backend
 * adds in plain order, whose error grows as √n to n units where PyTorch's blocked sums grow as
 * log n, and torch's variants all add torch's way, so E cannot show that difference. (With a floor
 * of 128 ulps instead, 1 of the 495 results of a full run failed: the decoder's output-bias
 * gradient at step 40 of knn-ce, Δ 4.3e-14 against 4E + floor = 3.9e-14.) A different formula
 * moves results by far more: β = 0.25 → 0.2501 gives 1.3e-8, τ × (1 + 1e-7) gives 8.9e-8.
 *
 * **Do the float32 runs agree as well as rounding allows? (free runs.)** Training is chaotic: a
 * difference of one ulp grows by orders of magnitude in a few steps (Adam turns a gradient's sign,
 * whatever its size, into a full step; a hard assignment, a rounding or the KNN term's top-1 flips
 * on a near-tie). Both engines train on their own; at each step t, E(t) is the running maximum over
 * s ≤ t of the distance of torch's float32 variants (one-ulp starts, permuted batches, its float64
 * run) from torch's float32 run: how far rounding alone has moved PyTorch's own run by then. Drifts
 * grow, then saturate at the step-to-step scatter of the loss, where a variant's curve can cross
 * torch's at one step by chance: hence the running maximum. The floor, 128 float32 ulps relative
 * (2⁻¹⁶), about √25,088: the typical rounding of one mean over a batch's pixels, for the first steps
 * before any variant has drifted (our float32 sums accumulate in float64, so ours round less).
 * Once the drift has saturated (knn-ce: by step ~5; ste, fsq: ~30) this says only that our curve
 * scatters about torch's as torch's own variants do; the early steps and the resync check carry
 * the weight.
 *
 * The float64 free runs are printed with their Δ and E (E from torch's float64 run from a one-ulp
 * start) but not judged: for ste and fsq they agree to ~1e-14 over the whole run; in knn-ce the
 * per-step rounding differences (~1e-13 in the gradients) grow at the rate torch's own variants
 * show, by ×10 every ~8 steps, past 1e-3 by step 100.
 */

/** Allowed ratio of our distance from torch's result to the largest distance of torch's own rounding variants. */
export const FACTOR = 4;
/** The free runs' floor, in units in the last place of the precision (relative to the loss). */
export const FLOOR_ULPS = 128;
export const ULP = { float32: 2 ** -23, float64: 2 ** -52 } as const;
/** The resync floor: (n − 1)·u for a plain-order sum of the n = batch × 784 pixels, u = 2⁻⁵³. */
export const resyncFloor = (batch: number): number => (batch * 28 * 28 - 1) * 2 ** -53;

export interface StepCheck {
  step: number;
  ours: number;
  torch: number;
  /** |ours − torch| / |torch|. */
  deviation: number;
  /** E(t): the running maximum of the variants' relative distance from torch. */
  envelope: number;
  /** FACTOR · E(t) + FLOOR. */
  bound: number;
}

export interface CurveCheck {
  pass: boolean;
  steps: StepCheck[];
  /** Largest deviation and the step where it happened. */
  maxDeviation: number;
  maxDeviationStep: number;
  /** Envelope at the last step. */
  finalEnvelope: number;
  /** Largest deviation / bound, and the step (≤ 1 everywhere means PASS). */
  worstRatio: number;
  worstStep: number;
  /** The first failing step, or null. */
  firstFail: number | null;
  floor: number;
}

const rel = (a: number, ref: number) => (Number.isFinite(a) && Number.isFinite(ref) ? Math.abs(a - ref) / Math.max(Math.abs(ref), Number.MIN_VALUE) : Number.POSITIVE_INFINITY);

/**
 * The free-run rule on per-step losses: `ours` and `torch` of one precision, and torch's rounding
 * variants (each as long as `torch`).
 */
export function checkCurves(ours: readonly number[], torch: readonly number[], variants: ReadonlyArray<readonly number[]>, precision: keyof typeof ULP): CurveCheck {
  if (ours.length !== torch.length || variants.some((v) => v.length !== torch.length)) {
    throw new Error(`checkCurves: curves of different lengths (ours ${ours.length}, torch ${torch.length}, variants ${variants.map((v) => v.length).join(', ')})`);
  }
  if (variants.length === 0) throw new Error('checkCurves: needs at least one rounding variant of the torch run');
  const floor = FLOOR_ULPS * ULP[precision];
  const steps: StepCheck[] = [];
  let envelope = 0;
  let maxDeviation = 0, maxDeviationStep = 0, worstRatio = 0, worstStep = 0;
  let firstFail: number | null = null;
  for (let t = 0; t < torch.length; t++) {
    for (const v of variants) envelope = Math.max(envelope, rel(v[t]!, torch[t]!));
    const deviation = rel(ours[t]!, torch[t]!);
    const bound = FACTOR * envelope + floor;
    const step = t + 1;
    steps.push({ step, ours: ours[t]!, torch: torch[t]!, deviation, envelope, bound });
    if (!(deviation <= maxDeviation) || maxDeviationStep === 0) [maxDeviation, maxDeviationStep] = [deviation, step];
    const ratio = ratioToBound(deviation, envelope, floor);
    if (ratio > worstRatio || worstStep === 0) [worstRatio, worstStep] = [ratio, step];
    if (firstFail === null && !(deviation <= bound)) firstFail = step;
  }
  return { pass: firstFail === null, steps, maxDeviation, maxDeviationStep, finalEnvelope: envelope, worstRatio, worstStep, firstFail, floor };
}

/** One result of the resync check: [ours, permuted batch, one-ulp state], each relative to torch's result. */
export type ResyncTriple = [number, number, number];

export interface ResyncRow {
  step: number;
  loss: ResyncTriple;
  grads: Record<string, ResyncTriple>;
}

export interface ResyncCheck {
  pass: boolean;
  /** Per sampled step: the worst result (loss or a parameter's gradient) by Δ / bound. */
  rows: Array<{ step: number; what: string; deviation: number; envelope: number; ratio: number }>;
  /** The worst over every step and result. */
  worst: { step: number; what: string; deviation: number; envelope: number; ratio: number };
  /** The largest Δ of any result (whatever its envelope). */
  maxDeviation: number;
  firstFail: number | null;
  floor: number;
}

/** The rule for one result: Δ ≤ FACTOR · E + floor, as a ratio (≤ 1 passes; NaN counts as failing). */
export function ratioToBound(deviation: number, envelope: number, floor: number): number {
  const r = deviation / (FACTOR * envelope + floor);
  return Number.isNaN(r) ? Number.POSITIVE_INFINITY : r;
}

/** The resync rule over every sampled step: the loss and each parameter's gradient against their own variants (float64). */
export function checkResync(rows: readonly ResyncRow[], batch: number): ResyncCheck {
  if (rows.length === 0) throw new Error('checkResync: no steps were compared');
  const floor = resyncFloor(batch);
  const out: ResyncCheck['rows'] = [];
  let firstFail: number | null = null, maxDeviation = 0;
  for (const r of rows) {
    let worst: ResyncCheck['rows'][number] | null = null;
    for (const [what, [ours, perm, ulp]] of [['loss', r.loss] as const, ...Object.entries(r.grads).map(([n, t]) => [`gradient of ${n}`, t] as const)]) {
      const envelope = Math.max(perm, ulp);
      const ratio = ratioToBound(ours, envelope, floor);
      maxDeviation = Math.max(maxDeviation, Number.isNaN(ours) ? Infinity : ours);
      if (!worst || ratio > worst.ratio) worst = { step: r.step, what, deviation: ours, envelope, ratio };
    }
    out.push(worst!);
    if (firstFail === null && !(worst!.ratio <= 1)) firstFail = r.step;
  }
  const worst = out.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  return { pass: firstFail === null, rows: out, worst, maxDeviation, firstFail, floor };
}

/** Mean of the losses over steps [from, to] (1-based, inclusive). */
export function windowMean(curve: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let t = from; t <= to; t++) s += curve[t - 1]!;
  return s / (to - from + 1);
}
