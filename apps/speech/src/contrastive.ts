/**
 * The contrastive task of wav2vec 2.0: at every masked step t, the context c_t must pick its own
 * quantized target q_t among K distractors drawn from other masked steps of the same utterance,
 * by cosine similarity over a temperature κ (0.1):
 *
 *   L = −log [ exp(sim(c_t, q_t)/κ) / Σ_{q̃ ∈ {q_t} ∪ Q_t} exp(sim(c_t, q̃)/κ) ]
 *
 * Distractors whose codes equal the target's (every group the same) are left out of the sum, as in
 * fairseq: they are the same target.
 */
import { tensor, type Generator, type Tensor } from '@simplex-vq/tensor';

export interface ContrastiveResult {
  loss: Tensor;
  /** Fraction of masked steps whose own target scores highest. */
  accuracy: number;
  /** Masked steps that entered the loss. */
  steps: number;
}

/**
 * context, targets [B, T, e]; mask [B·T] (1 = masked); codes [B·T·G] int (the targets' codes, or
 * null for quantizers whose targets are never identical).
 */
export function contrastiveLoss(
  context: Tensor,
  targets: Tensor,
  mask: Float32Array,
  codes: Int32Array | null,
  groups: number,
  opts: { distractors: number; temperature: number; generator: Generator },
): ContrastiveResult {
  const [B, T, E] = context.shape as [number, number, number];
  const K = opts.distractors;
  const rows: number[] = [];
  const cand: number[] = [];
  const same: number[] = [];
  for (let b = 0; b < B; b++) {
    const masked: number[] = [];
    for (let t = 0; t < T; t++) if (mask[b * T + t]) masked.push(b * T + t);
    if (masked.length < 2) continue;
    masked.forEach((i, pos) => {
      rows.push(i);
      cand.push(i);
      same.push(0);
      for (let k = 0; k < K; k++) {
        // Uniform over the other masked steps of this utterance.
        let r = opts.generator.randint(0, masked.length - 1);
        if (r >= pos) r++;
        const j = masked[r]!;
        cand.push(j);
        let identical = codes !== null;
        for (let g = 0; identical && g < groups; g++) identical = codes![i * groups + g] === codes![j * groups + g];
        same.push(identical ? 1 : 0);
      }
    });
  }
  const n = rows.length;
  if (n === 0) throw new RangeError('contrastiveLoss: no utterance has two masked steps');
  const c = context.reshape([B * T, E]).indexSelect(0, tensor(Int32Array.from(rows))); // [n, E]
  const q = targets.reshape([B * T, E]).indexSelect(0, tensor(Int32Array.from(cand))).reshape([n, K + 1, E]);
  const dot = q.mul(c.unsqueeze(1)).sum(-1); // [n, K+1]
  const norms = q.square().sum(-1).sqrt().mul(c.square().sum(-1, true).sqrt()).clamp(1e-8);
  let logits = dot.div(norms).div(opts.temperature);
  logits = logits.add(tensor(Float32Array.from(same, (s) => s * -1e9), { shape: [n, K + 1] }));
  const logp = logits.logSoftmax(-1);
  const loss = logp.slice(1, 0, 1).mean().neg();
  const best = logits.detach().argmax(1).data();
  let right = 0;
  for (let i = 0; i < n; i++) if (best[i] === 0) right++;
  return { loss, accuracy: right / n, steps: n };
}
