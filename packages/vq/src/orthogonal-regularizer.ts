/**
 * Orthogonal regularization of a codebook (Shin et al., 2021, "Translation-equivariant image
 * quantizer", eq. 2; vector-quantize-pytorch's `orthogonal_reg_weight`): the codes, l2-normalized,
 * should be as close to orthonormal as their number allows:
 *
 *   L_orth = 1/(G·M²) · Σ_g ‖Ê_gᵀ Ê_g − I‖²_F  =  1/(G·M²) · Σ_g Σ_{i,j} (ê_i·ê_j)²  −  1/M
 *
 * (the diagonal holds M ones). It is 0 exactly when the codes of each group are pairwise
 * orthogonal, which needs M ≤ d; with more codes than dimensions Σ_{i,j}(ê_i·ê_j)² ≥ M²/d (a frame
 * bound), so L_orth ≥ 1/d − 1/M. It depends on the directions only: scaling a code does not change it.
 */
import { ShapeError, type Tensor } from '@simplex-vq/tensor';
import { l2normalize } from './quantizer.js';

/** L_orth of a codebook [G, M, d] (or [M, d]): a scalar tensor, differentiable in the codebook. */
export function orthogonalRegularizer(codebook: Tensor): Tensor {
  const book = codebook.ndim === 2 ? codebook.unsqueeze(0) : codebook;
  if (book.ndim !== 3 || book.shape[1]! < 1) throw new ShapeError('orthogonalRegularizer', `expects a codebook [M, d] or [G, M, d], got [${codebook.shape.join(', ')}]`);
  const [G, M] = book.shape as [number, number, number];
  const unit = l2normalize(book);
  const cosines = unit.matmul(unit.mT); // [G, M, M]
  return cosines.square().sum().div(G * M * M).sub(1 / M);
}
