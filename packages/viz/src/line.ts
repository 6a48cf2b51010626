import type { TopLevelSpec } from 'vega-lite';
import { checkDomain, checkLabel, checkPositive, fail, failType, isNumberArray } from './errors.js';
import { type ChartSize, DEFAULT_CHART_SCALE, vegaLiteToPng, chartFrame } from './render.js';

export interface LineSeries {
  /** Shown in the legend; must be unique within the chart. */
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface LineChartOptions extends ChartSize {
  title?: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** One line per series, drawn in this order and listed in this order in the legend. */
  series: LineSeries[];
  /** Fixes the y axis range, e.g. [0, M] for code usage; lines leaving it are clipped. */
  yDomain?: [number, number];
  /** Logarithmic y axis (non-positive y values are then skipped). */
  logY?: boolean;
  /** Draw a dot at every point. Default: only when no series has more than 30 points. */
  points?: boolean;
  /** Legend title. Default: none. */
  legendTitle?: string;
}

const FN = 'lineChart';

/**
 * Several named series on one chart with a legend: code usage or loss over training, all methods at
 * once. Points whose x or y is not finite (NaN after a divergence, ±Infinity), or whose y is not
 * positive on a log axis, are skipped; the chart throws only when nothing at all is left to draw.
 */
export async function lineChart(opts: LineChartOptions): Promise<Uint8Array> {
  if (opts === null || typeof opts !== 'object') failType(FN, 'options object is required');
  const { series } = opts;
  if (!Array.isArray(series)) failType(FN, 'series must be an array of { name, x, y }');
  if (series.length === 0) fail(FN, 'series is empty: give at least one { name, x, y }');
  checkLabel(FN, 'xLabel', opts.xLabel);
  checkLabel(FN, 'yLabel', opts.yLabel);
  const logY = opts.logY === true;
  const yDomain = opts.yDomain === undefined ? undefined : checkDomain(FN, 'yDomain', opts.yDomain, logY);
  const width = checkPositive(FN, 'width', opts.width ?? 640);
  const height = checkPositive(FN, 'height', opts.height ?? 400);
  const scale = checkPositive(FN, 'scale', opts.scale ?? DEFAULT_CHART_SCALE);

  const names: string[] = [];
  const values: Array<{ series: string; x: number; y: number }> = [];
  let longest = 0;
  series.forEach((s, i) => {
    const where = `series[${i}]`;
    if (s === null || typeof s !== 'object') failType(FN, `${where} must be an object { name, x, y }`);
    if (typeof s.name !== 'string' || s.name.length === 0) fail(FN, `${where}.name must be a non-empty string`);
    const named = `${where} ("${s.name}")`;
    if (names.includes(s.name)) fail(FN, `${named}: duplicate series name`);
    names.push(s.name);
    if (!isNumberArray(s.x)) failType(FN, `${named}.x must be an array of numbers`);
    if (!isNumberArray(s.y)) failType(FN, `${named}.y must be an array of numbers`);
    if (s.x.length !== s.y.length) {
      fail(FN, `${named}: x has ${s.x.length} values but y has ${s.y.length}; they must have the same length`);
    }
    if (s.x.length === 0) fail(FN, `${named} has no points (x and y are empty)`);
    longest = Math.max(longest, s.x.length);
    for (let k = 0; k < s.x.length; k++) {
      const x = Number(s.x[k]);
      const y = Number(s.y[k]);
      if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) continue;
      values.push({ series: s.name, x, y });
    }
  });
  if (values.length === 0) {
    fail(FN, `series has no finite${logY ? ', positive' : ''} (x, y) point to draw`);
  }

  const spec: TopLevelSpec = {
    ...chartFrame(opts.title, opts.subtitle, width, height, values),
    mark: {
      type: 'line',
      strokeWidth: 2,
      clip: true,
      point: (opts.points ?? longest <= 30) ? { filled: true, size: 30 } : false,
    },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: opts.xLabel,
        scale: { zero: false, nice: false },
        axis: { tickCount: 8 },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yLabel,
        scale: {
          type: logY ? 'log' : 'linear',
          zero: false,
          ...(yDomain ? { domain: yDomain, nice: false } : {}),
        },
      },
      color: {
        field: 'series',
        type: 'nominal',
        // Vega's default palette has 10 colours and repeats after them: more series get 20.
        scale: { domain: names, ...(names.length > 10 ? { scheme: 'tableau20' } : {}) },
        legend: { title: opts.legendTitle ?? null, orient: 'right' },
      },
    },
  };
  return vegaLiteToPng(spec, { scale });
}
