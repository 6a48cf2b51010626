/**
 * Loss functions (torch.nn.functional), each built from engine ops so its gradient follows.
 * `reduction` is 'mean' (default), 'sum' or 'none' (the per-element or per-sample losses).
 */
import { DTypeError, IndexError, ShapeError, type Tensor } from '@simplex-vq/tensor';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? loss.sum() : loss.mean();
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `input ${fmt(a.shape)} and target ${fmt(b.shape)} must have the same shape`);
  }
}

/** Mean squared error: (input − target)². */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  sameShape('mseLoss', input, target);
  return reduce(input.sub(target).square(), opts.reduction ?? 'mean');
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /**
   * Mixes the one-hot target with the uniform distribution: the target becomes
   * (1 − ε)·onehot + ε/C, so loss = (1 − ε)·(−log p_y) + ε·mean_c(−log p_c).
   */
  labelSmoothing?: number;
  /** Targets equal to this index contribute nothing (and are left out of the mean). */
  ignoreIndex?: number;
}

/**
 * Cross-entropy of logits against class targets, as torch.nn.functional.cross_entropy: input
 * [N, C] or [N, C, d1, ...] (classes on axis 1), target int32 [N] or [N, d1, ...] with class
 * indices, or float32 of input's shape with class probabilities.
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  if (input.ndim < 2) throw new ShapeError('crossEntropy', `input must be [N, C, ...] logits, got ${fmt(input.shape)}`);
  const C = input.shape[1]!;
  // Classes last, everything else flattened into rows: logits [R, C].
  const perm = [0, ...input.shape.slice(2).map((_, i) => i + 2), 1];
  const logp = input.permute(perm).reshape([-1, C]).logSoftmax(-1);
  const rowShape = [input.shape[0]!, ...input.shape.slice(2)];

  if (target.dtype === 'float32') {
    sameShape('crossEntropy', input, target);
    let q = target.permute(perm).reshape([-1, C]);
    if (eps > 0) q = q.mul(1 - eps).add(eps / C);
    const loss = logp.mul(q).sum(1).neg().reshape(rowShape);
    return reduce(loss, reduction);
  }
  if (target.dtype !== 'int32') throw new DTypeError('crossEntropy', `target must be int32 class indices or float32 probabilities, got ${target.dtype}`);
  if (target.shape.length !== rowShape.length || target.shape.some((d, i) => d !== rowShape[i])) {
    throw new ShapeError('crossEntropy', `target ${fmt(target.shape)} must be ${fmt(rowShape)} for input ${fmt(input.shape)}`);
  }
  const labels = target.reshape([-1]);
  const values = labels.data();
  const ignore = opts.ignoreIndex;
  let valid: Tensor | null = null;
  let safeLabels = labels;
  for (const c of values) {
    if (c !== ignore && (c < 0 || c >= C)) throw new IndexError('crossEntropy', `target class ${c} is out of range for ${C} classes`);
  }
  if (ignore !== undefined && values.includes(ignore)) {
    valid = labels.ne(ignore).float();
    safeLabels = labels.where(labels.ne(ignore), 0); // any in-range class; its loss is masked out
  }
  let loss = logp.gather(1, safeLabels.unsqueeze(1)).squeeze(1).neg(); // −log p_y
  if (eps > 0) loss = loss.mul(1 - eps).add(logp.mean(1).neg().mul(eps));
  if (valid) loss = loss.mul(valid);
  if (reduction === 'mean' && valid) return loss.sum().div(Math.max(valid.sum().item(), 1));
  return reduce(loss.reshape(rowShape), reduction);
}

/**
 * Binary cross-entropy on logits, in the stable form
 *   ℓ = max(x, 0) − x·y + log(1 + e^(−|x|))
 * (with posWeight w: ℓ = (1 − y)·x + (1 + (w − 1)·y)·(log(1 + e^(−|x|)) + max(−x, 0))).
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; posWeight?: Tensor | number } = {},
): Tensor {
  sameShape('binaryCrossEntropyWithLogits', input, target);
  const y = target.dtype === 'float32' ? target : target.float();
  const softplusNegAbs = input.abs().neg().exp().add(1).log(); // log(1 + e^(−|x|))
  let loss: Tensor;
  if (opts.posWeight === undefined) {
    loss = input.relu().sub(input.mul(y)).add(softplusNegAbs);
  } else {
    const w = y.mul(opts.posWeight).sub(y).add(1); // 1 + (w − 1)·y
    loss = y.neg().add(1).mul(input).add(w.mul(softplusNegAbs.add(input.neg().relu())));
  }
  return reduce(loss, opts.reduction ?? 'mean');
}

/**
 * Cosine similarity along `dim`: Σ x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)), as PyTorch
 * computes it (each norm clamped, so a zero vector gives 0 rather than NaN).
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, opts: { dim?: number; eps?: number } = {}): Tensor {
  const dim = opts.dim ?? 1;
  const eps = opts.eps ?? 1e-8;
  // Clamping the squared norm keeps the gradient finite at 0 (√ has an infinite slope there).
  const norm = (x: Tensor) => x.square().sum(dim, true).clamp(eps * eps).sqrt();
  return x1.div(norm(x1)).mul(x2.div(norm(x2))).sum(dim);
}
