import type { TopLevelSpec } from 'vega-lite';
import { checkPositive, failType } from './errors.js';
import { type ChartSize, DEFAULT_CHART_SCALE, vegaLiteToPng, chartFrame } from './render.js';
import { checkCounts, usageSummary } from './usage-summary.js';

export { usageSummary, type UsageSummary } from './usage-summary.js';

export interface UsageChartOptions extends ChartSize {
  /** Default "Codebook usage". */
  title?: string;
  /** How often each code was chosen (or any non-negative weight per code); one entry per code, M in all. */
  counts: ArrayLike<number>;
  /** Symmetric-log y axis, for when a few codes take most of the assignments. */
  logY?: boolean;
  xLabel?: string;
  yLabel?: string;
}

const FN = 'usageChart';

/**
 * Codebook usage: codes sorted by use (most used first) with their counts, the number of used codes
 * out of M and the perplexity in the subtitle, and a dashed line where the unused codes begin.
 */
export async function usageChart(opts: UsageChartOptions): Promise<Uint8Array> {
  if (opts === null || typeof opts !== 'object') failType(FN, 'options object is required');
  const counts = checkCounts(opts.counts);
  const width = checkPositive(FN, 'width', opts.width ?? 640);
  const height = checkPositive(FN, 'height', opts.height ?? 360);
  const scale = checkPositive(FN, 'scale', opts.scale ?? DEFAULT_CHART_SCALE);
  const { codes, used, perplexity } = usageSummary(counts);

  const sorted = Array.from(counts).sort((a, b) => b - a);
  // Code of rank r (1-based) covers [r - 1, r] on a linear axis, so any M draws as contiguous bars.
  const values = sorted.map((count, i) => ({ lo: i, hi: i + 1, count, rank: i + 1 }));
  const pct = (100 * used) / codes;
  const subtitle =
    `${used} of M = ${codes} codes used (${pct.toFixed(pct === 100 || pct === 0 ? 0 : 1)}%)` +
    ` · perplexity ${perplexity.toFixed(perplexity < 100 ? 2 : 1)}`;

  const x = { field: 'lo', type: 'quantitative' as const, title: opts.xLabel ?? 'code rank (sorted by use)', scale: { domain: [0, codes], nice: false, zero: true } };
  const yScale = opts.logY === true ? { type: 'symlog' as const } : { zero: true };
  const layer: NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']> = [
    {
      mark: { type: 'bar', color: '#4c78a8', binSpacing: 0, ...(codes > 64 ? { stroke: null } : { stroke: 'white', strokeWidth: 0.5 }) },
      encoding: {
        x,
        x2: { field: 'hi' },
        y: { field: 'count', type: 'quantitative', title: opts.yLabel ?? 'count', scale: yScale },
        y2: { datum: 0 },
      },
    },
  ];
  if (used > 0 && used < codes) {
    layer.push({
      data: { values: [{ used }] },
      mark: { type: 'rule', color: '#e45756', strokeDash: [5, 4], strokeWidth: 1.5 },
      encoding: { x: { field: 'used', type: 'quantitative' } },
    });
  }
  const spec: TopLevelSpec = {
    ...chartFrame(opts.title ?? 'Codebook usage', subtitle, width, height, values),
    layer,
  };
  return vegaLiteToPng(spec, { scale });
}
