/**
 * Perplexities of code assignments, and the perplexity regularizer (a baseline).
 *
 * For a distribution q over M codes, the perplexity exp H(q) = exp(−Σ q log q) lies in [1, M]:
 * 1 when all mass is on one code, M when it is uniform. Applied to the batch mean p̄ it measures
 * how many codes are in use; applied to each p_n and averaged ("individual perplexity") it measures
 * how far the quantizers are from one-hot.
 */
import { ShapeError, type Tensor } from '@simplex-vq/tensor';

/** Entropy in nats of each row of a probability matrix (0·log 0 = 0). */
export function entropy(p: Tensor, axis = -1): Tensor {
  // p log p with the convention 0 log 0 = 0: clamp inside the log only.
  return p.mul(p.clamp(1e-30).log()).sum(axis).neg();
}

/**
 * The perplexity regularizer: (M − exp H(p̄)) / M with p̄ the mean of the rows of p. Zero when the
 * batch uses every code equally on average — which a batch of identical uniform rows does too.
 */
export function perplexityRegularizer(x: Tensor, opts: { input?: 'logits' | 'probs' } = {}): Tensor {
  if (x.ndim !== 2) throw new ShapeError('perplexityRegularizer', `expects a [N, M] matrix, got shape [${x.shape.join(', ')}]`);
  const p = (opts.input ?? 'logits') === 'logits' ? x.softmax(-1) : x;
  const m = x.shape[1]!;
  const perplexity = entropy(p.mean(0)).exp();
  return perplexity.neg().add(m).div(m);
}
