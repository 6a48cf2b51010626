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
 * For every masked step i (of an utterance with at least two), the candidates [i, j_1 … j_K]: the
 * positive first, then K distractors drawn uniformly, with replacement, from the *other* masked
 * steps of the same utterance — never the positive itself. Indices are rows of [B·T].
 */
export function sampleDistractors(mask: Float32Array, B: number, T: number, K: number, generator: Generator): { rows: number[]; candidates: number[] } {
  const rows: number[] = [];
  const candidates: number[] = [];
  for (let b = 0; b < B; b++) {
    const masked: number[] = [];
    for (let t = 0; t < T; t++) if (mask[b * T + t]) masked.push(b * T + t);
    if (masked.length < 2) continue;
    masked.forEach((i, pos) => {
      rows.push(i);
      candidates.push(i);
      for (let k = 0; k < K; k++) {
        let r = generator.randint(0, masked.length - 1); // one of the others: skip over the positive
        if (r >= pos) r++;
        candidates.push(masked[r]!);
      }
    });
  }
  return { rows, candidates };
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
  const { rows, candidates: cand } = sampleDistractors(mask, B, T, K, opts.generator);
  // A distractor whose codes all equal the target's is the same target: it leaves the sum.
  const same = cand.map((j, x) => {
    const i = rows[Math.floor(x / (K + 1))]!;
    if (codes === null || x % (K + 1) === 0) return 0;
    for (let g = 0; g < groups; g++) if (codes[i * groups + g] !== codes[j * groups + g]) return 0;
    return 1;
  });
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
