/**
 * The rotation trick (Fifty et al., 2024, "Restructuring Vector Quantization with the Rotation
 * Trick"): a hard quantizer replaces z by its code q in the forward pass; instead of passing the
 * decoder's gradient g to z unchanged (the straight-through estimator, ∂q/∂z = I), it passes it
 * through the rotation and rescaling that carries z onto q, treated as a constant:
 *
 *   ẑ = z/‖z‖,  q̂ = q/‖q‖,  λ = ‖q‖/‖z‖,  r = (ẑ + q̂)/‖ẑ + q̂‖
 *   R = I − 2rrᵀ + 2q̂ẑᵀ        (two Householder reflections: R ẑ = q̂, and R is orthogonal)
 *   q̃ = sg(λR) z               forward: λR z = λ‖z‖ q̂ = q;   backward: ∂L/∂z = λ Rᵀ g
 *
 * R is never formed: R z = z − 2(r·z) r + 2(ẑ·z) q̂, and its transpose acts on g the same way,
 * Rᵀg = g − 2(r·g) r + 2(q̂·g) ẑ, which autograd derives from the first form with ẑ, q̂, r and λ
 * detached. So a gradient keeps its norm up to λ and turns by the angle between z and q: rows
 * whose code lies in another direction get a gradient turned with it, rows far from their code
 * (λ small or large) a scaled one. Corner cases: when ẑ and q̂ are (nearly) opposite,
 * ‖ẑ + q̂‖ < 10⁻⁴, the direction of r is float32 rounding noise, so r = 0 is used: R = I + 2q̂ẑᵀ,
 * which for ẑ = −q̂ is the reflection I − 2q̂q̂ᵀ onto q̂ (vector-quantize-pytorch gets the same from
 * its normalization's eps); a zero row z (no direction to rotate) falls back to the
 * straight-through estimator; a zero code gives λ = 0 and no gradient, as the formula says.
 *
 * The forward value is λR z plus sg(q − λR z): exactly q up to one float rounding, as
 * z + sg(q − z) is for the straight-through estimator.
 */
import type { Tensor } from '@simplex-vq/tensor';

/** Below this norm a row has no direction: the straight-through estimator is used for it. */
const TINY = 1e-12;
/** Below this ‖ẑ + q̂‖ the two are taken as opposite (r = 0): float32 rounding would set r's direction. */
const OPPOSITE = 1e-4;

/**
 * q in the forward pass, with the gradient to z of the rotation trick. z, q: [..., d] (rows along
 * the last axis); q is treated as a constant (its gradient is not computed here).
 */
export function rotateTo(z: Tensor, q: Tensor): Tensor {
  const target = q.detach();
  const zNorm = z.detach().square().sum(-1, true).sqrt(); // [..., 1]
  const qNorm = target.square().sum(-1, true).sqrt();
  const live = zNorm.gt(TINY).float(); // 1 where z has a direction
  const safeZ = zNorm.mul(live).add(live.neg().add(1)); // ‖z‖, or 1 where it is zero
  const zHat = z.detach().div(safeZ).mul(live);
  const qHat = target.div(qNorm.clamp(TINY));
  const sum = zHat.add(qHat);
  const sumNorm = sum.square().sum(-1, true).sqrt();
  const r = sum.div(sumNorm.clamp(OPPOSITE)).mul(sumNorm.gt(OPPOSITE).float());
  // λ R z = λ (z − 2(r·z) r + 2(ẑ·z) q̂); rows without a direction: z itself (λ = 1, R = I).
  const rotated = z.sub(r.mul(z.mul(r).sum(-1, true).mul(2))).add(qHat.mul(z.mul(zHat).sum(-1, true).mul(2)));
  const lambda = qNorm.div(safeZ);
  const out = rotated.mul(lambda).mul(live).add(z.mul(live.neg().add(1)));
  return out.add(target.sub(out).detach());
}
