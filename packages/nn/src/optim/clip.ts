/**
 * Gradient clipping (torch.nn.utils.clip_grad_norm_): if the norm of all gradients together,
 * ‖(g₁, …, gₙ)‖ = (Σ‖gᵢ‖ᵖ)^(1/p), exceeds maxNorm, every gradient is scaled by
 * maxNorm / (norm + 1e-6). Returns the norm before clipping.
 */
import { noGrad, type Tensor } from '@simplex-vq/tensor';

export function clipGradNorm(
  params: Iterable<Tensor>,
  maxNorm: number,
  opts: { normType?: number; errorIfNonfinite?: boolean } = {},
): number {
  const p = opts.normType ?? 2;
  const withGrad = [...params].filter((t) => t.grad);
  if (withGrad.length === 0) return 0;
  return noGrad(() => {
    let total: number;
    if (p === Infinity) {
      total = Math.max(...withGrad.map((t) => t.grad!.abs().max().item()));
    } else {
      let acc = 0;
      for (const t of withGrad) acc += (p === 2 ? t.grad!.square() : t.grad!.abs().pow(p)).sum().item();
      total = acc ** (1 / p);
    }
    if (opts.errorIfNonfinite && !Number.isFinite(total)) {
      throw new RangeError(`clipGradNorm: the total norm of order ${p} of the gradients is ${total}`);
    }
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) for (const t of withGrad) t.grad = t.grad!.mul(coef);
    return total;
  });
}
