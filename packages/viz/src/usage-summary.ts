/**
 * The numbers of a codebook-usage chart (used codes, perplexity): arithmetic only, so this file
 * (and the `@simplex-vq/viz/svg` entry that exports it) runs in a page as well as in Node.
 */
import { fail, failType, isNumberArray } from './errors.js';

/** What the usage chart reports in its subtitle. */
export interface UsageSummary {
  /** Number of codes M. */
  codes: number;
  /** Codes with a count above zero. */
  used: number;
  /** exp(entropy) of the usage distribution: the effective number of codes (0 when all counts are 0). */
  perplexity: number;
}

const FN = 'usageChart';

export function checkCounts(counts: unknown): ArrayLike<number> {
  if (!isNumberArray(counts)) failType(FN, 'counts must be an array of numbers (one per code)');
  if (counts.length === 0) fail(FN, 'counts is empty: give one count per code');
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!Number.isFinite(c) || c < 0) fail(FN, `counts[${i}] must be a finite number >= 0, got ${String(c)}`);
  }
  return counts;
}

/** Number of used codes and the perplexity of the usage distribution. */
export function usageSummary(counts: ArrayLike<number>): UsageSummary {
  checkCounts(counts);
  let total = 0;
  let used = 0;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!;
    if (counts[i]! > 0) used++;
  }
  let entropy = 0;
  if (total > 0) {
    for (let i = 0; i < counts.length; i++) {
      const p = counts[i]! / total;
      if (p > 0) entropy -= p * Math.log(p);
    }
  }
  return { codes: counts.length, used, perplexity: total > 0 ? Math.exp(entropy) : 0 };
}
