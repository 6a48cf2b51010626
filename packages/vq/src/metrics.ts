/**
 * Codebook usage metrics (SPEC section 4), accumulated over an evaluation set batch by batch.
 *
 * With hard assignments a_n (argmax of p_n, or the nearest code):
 * - code usage: the fraction of the M codes chosen at least once;
 * - perplexity of the mean (hard): exp H(h), h the histogram of a_n normalized to sum 1; the soft
 *   version uses p̄, the mean of the p_n. Both lie in [1, M];
 * - individual perplexity: the mean over n of exp H(p_n) — 1 for one-hot rows, M for uniform ones
 *   (1 by definition for hard quantizers, which give no p_n);
 * - per-sample code usage: the mean over samples (images, utterances) of the number of distinct
 *   codes in the sample divided by M.
 * With G groups (product quantization) every figure is computed per group; the overall figure is
 * the mean over groups.
 */
import { ShapeError, type Tensor } from '@simplex-vq/tensor';

export interface UsageStats {
  /** Fraction of codes used at least once, in [0, 1]. */
  codeUsage: number;
  /** exp H of the normalized histogram of hard codes, in [1, M]. */
  perplexityOfMean: number;
  /** exp H of the mean probability vector, in [1, M]; null when no probabilities were given. */
  perplexityOfMeanSoft: number | null;
  /** Mean of exp H(p_n), in [1, M]; 1 for hard quantizers. */
  individualPerplexity: number;
  /** Mean over samples of distinct codes / M, in [0, 1]. */
  perSampleCodeUsage: number;
  /** How often each code was chosen. */
  histogram: number[];
  /** Rows seen. */
  rows: number;
}

export interface UsageUpdate {
  /** Probabilities [N, M] or [N, G, M], for the soft and individual figures. */
  probs?: Tensor;
  /** Rows per sample (e.g. 49 latent positions per image); the rows of a batch are whole samples. */
  rowsPerSample?: number;
  /** Or the length of each sample in rows, in order (variable-length utterances). */
  sampleLengths?: readonly number[];
}

function perplexityOf(dist: Float64Array, total: number): number {
  if (total <= 0) return 1;
  let h = 0;
  for (const c of dist) {
    if (c > 0) {
      const q = c / total;
      h -= q * Math.log(q);
    }
  }
  return Math.exp(h);
}

class GroupAccumulator {
  readonly histogram: Float64Array;
  readonly probSum: Float64Array;
  individualSum = 0;
  softRows = 0;
  rows = 0;
  sampleUsageSum = 0;
  samples = 0;

  constructor(readonly m: number) {
    this.histogram = new Float64Array(m);
    this.probSum = new Float64Array(m);
  }

  stats(): UsageStats {
    let used = 0;
    for (const c of this.histogram) if (c > 0) used++;
    return {
      codeUsage: used / this.m,
      perplexityOfMean: perplexityOf(this.histogram, this.rows),
      perplexityOfMeanSoft: this.softRows > 0 ? perplexityOf(this.probSum, this.softRows) : null,
      individualPerplexity: this.softRows > 0 ? this.individualSum / this.softRows : 1,
      perSampleCodeUsage: this.samples > 0 ? this.sampleUsageSum / this.samples : 0,
      histogram: Array.from(this.histogram),
      rows: this.rows,
    };
  }
}

/** Streams batches of assignments; `result()` gives the figures so far. */
export class CodeUsageTracker {
  private groupsAcc: GroupAccumulator[];

  constructor(
    readonly codebookSize: number,
    readonly groups = 1,
  ) {
    if (!Number.isInteger(codebookSize) || codebookSize < 1) throw new ShapeError('CodeUsageTracker', `codebookSize must be a positive integer, got ${codebookSize}`);
    this.groupsAcc = Array.from({ length: groups }, () => new GroupAccumulator(codebookSize));
  }

  reset(): void {
    this.groupsAcc = Array.from({ length: this.groups }, () => new GroupAccumulator(this.codebookSize));
  }

  /** Adds a batch: int32 indices [N] (one group) or [N, G]. */
  update(indices: Tensor, opts: UsageUpdate = {}): void {
    const G = this.groups, M = this.codebookSize;
    const expected = G === 1 ? [[indices.shape[0]], [indices.shape[0], 1]] : [[indices.shape[0], G]];
    if (!expected.some((s) => s.length === indices.ndim && s.every((d, i) => d === indices.shape[i]))) {
      throw new ShapeError('CodeUsageTracker.update', `indices of shape [${indices.shape.join(', ')}] do not match ${G} group(s): expected [N]${G === 1 ? ' or [N, 1]' : ''} or [N, ${G}]`);
    }
    const n = indices.shape[0]!;
    const idx = indices.data();
    for (let i = 0; i < idx.length; i++) {
      if (idx[i]! < 0 || idx[i]! >= M) throw new ShapeError('CodeUsageTracker.update', `code ${idx[i]} is out of range for a codebook of ${M}`);
    }
    const lengths = opts.sampleLengths ?? (opts.rowsPerSample ? new Array(Math.floor(n / opts.rowsPerSample)).fill(opts.rowsPerSample) : []);
    if (lengths.reduce((s, l) => s + l, 0) > n) throw new ShapeError('CodeUsageTracker.update', `sample lengths add up to more than the ${n} rows`);
    let probs: Float32Array | Int32Array | null = null;
    if (opts.probs) {
      const want = G === 1 ? [n, M] : [n, G, M];
      const ok = opts.probs.size === n * G * M && (opts.probs.ndim === want.length || (G === 1 && opts.probs.ndim === 3));
      if (!ok) throw new ShapeError('CodeUsageTracker.update', `probs of shape [${opts.probs.shape.join(', ')}] do not match [${want.join(', ')}]`);
      probs = opts.probs.data();
    }
    const seen = new Uint8Array(M);
    for (let g = 0; g < G; g++) {
      const acc = this.groupsAcc[g]!;
      for (let r = 0; r < n; r++) acc.histogram[idx[r * G + g]!]! += 1;
      acc.rows += n;
      if (probs) {
        for (let r = 0; r < n; r++) {
          const base = (r * G + g) * M;
          let h = 0;
          for (let m = 0; m < M; m++) {
            const q = probs[base + m]!;
            acc.probSum[m]! += q;
            if (q > 0) h -= q * Math.log(q);
          }
          acc.individualSum += Math.exp(h);
        }
        acc.softRows += n;
      }
      let start = 0;
      for (const len of lengths) {
        seen.fill(0);
        let distinct = 0;
        for (let r = start; r < start + len; r++) {
          const c = idx[r * G + g]!;
          if (!seen[c]) {
            seen[c] = 1;
            distinct++;
          }
        }
        acc.sampleUsageSum += distinct / M;
        acc.samples++;
        start += len;
      }
    }
  }

  /** Figures per group, and overall (the mean over groups; histograms concatenated). */
  result(): { overall: UsageStats; groups: UsageStats[] } {
    const groups = this.groupsAcc.map((a) => a.stats());
    const mean = (f: (s: UsageStats) => number) => groups.reduce((s, g) => s + f(g), 0) / groups.length;
    const soft = groups.every((g) => g.perplexityOfMeanSoft !== null);
    return {
      overall: {
        codeUsage: mean((g) => g.codeUsage),
        perplexityOfMean: mean((g) => g.perplexityOfMean),
        perplexityOfMeanSoft: soft ? mean((g) => g.perplexityOfMeanSoft!) : null,
        individualPerplexity: mean((g) => g.individualPerplexity),
        perSampleCodeUsage: mean((g) => g.perSampleCodeUsage),
        histogram: groups.flatMap((g) => g.histogram),
        rows: groups[0]?.rows ?? 0,
      },
      groups,
    };
  }
}
