import type { TopLevelSpec } from 'vega-lite';
import { checkDomain, checkLabel, checkPositive, fail, failType } from './errors.js';
import { type ChartSize, DEFAULT_CHART_SCALE, vegaLiteToPng, chartFrame } from './render.js';

export interface Bar {
  /** What the bar is, e.g. the method. */
  label: string;
  value: number;
  /** Half-length of the error bar: the bar shows value ± error (e.g. the spread over seeds). */
  error?: number;
  /**
   * Groups put bars side by side: each group is one position on the x axis, and the bars within it
   * are told apart by colour (legend = labels). Either every bar has a group or none has.
   */
  group?: string;
}

export interface BarChartOptions extends ChartSize {
  title?: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** Drawn in this order (labels and groups keep the order of their first appearance). */
  bars: Bar[];
  /** Fixes the y range; by default it includes 0 and every value ± error. */
  yDomain?: [number, number];
  /** Print each bar's value above it. Default false. */
  showValues?: boolean;
  /**
   * Horizontal reference lines across the plot (dashed, labelled at the right end), e.g. a baseline
   * and chance level the bars are read against. The default y range includes them.
   */
  rules?: BarRule[];
}

export interface BarRule {
  value: number;
  label: string;
}

const FN = 'barChart';

/** Bars for comparing methods, with optional error bars (mean ± spread over seeds) and optional grouping. */
export async function barChart(opts: BarChartOptions): Promise<Uint8Array> {
  if (opts === null || typeof opts !== 'object') failType(FN, 'options object is required');
  const { bars } = opts;
  checkLabel(FN, 'xLabel', opts.xLabel);
  checkLabel(FN, 'yLabel', opts.yLabel);
  if (!Array.isArray(bars)) failType(FN, 'bars must be an array of { label, value, error?, group? }');
  if (bars.length === 0) fail(FN, 'bars is empty: give at least one { label, value }');
  const yDomain = opts.yDomain === undefined ? undefined : checkDomain(FN, 'yDomain', opts.yDomain, false);
  const rules = opts.rules ?? [];
  if (!Array.isArray(rules)) failType(FN, 'rules must be an array of { value, label }');
  rules.forEach((r, i) => {
    if (r === null || typeof r !== 'object') failType(FN, `rules[${i}] must be an object { value, label }`);
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) fail(FN, `rules[${i}].value must be a finite number, got ${String(r.value)}`);
    checkLabel(FN, `rules[${i}].label`, r.label);
  });
  const width = checkPositive(FN, 'width', opts.width ?? 640);
  const height = checkPositive(FN, 'height', opts.height ?? 400);
  const scale = checkPositive(FN, 'scale', opts.scale ?? DEFAULT_CHART_SCALE);

  const grouped = bars[0] !== null && typeof bars[0] === 'object' && bars[0].group !== undefined;
  const labels: string[] = [];
  const groups: string[] = [];
  const seen = new Set<string>();
  let anyError = false;
  const values = bars.map((b, i) => {
    const where = `bars[${i}]`;
    if (b === null || typeof b !== 'object') failType(FN, `${where} must be an object { label, value }`);
    if (typeof b.label !== 'string' || b.label.length === 0) fail(FN, `${where}.label must be a non-empty string`);
    const named = `${where} ("${b.label}")`;
    if (typeof b.value !== 'number' || !Number.isFinite(b.value)) {
      fail(FN, `${named}.value must be a finite number, got ${String(b.value)}`);
    }
    if (b.error !== undefined && (typeof b.error !== 'number' || !Number.isFinite(b.error) || b.error < 0)) {
      fail(FN, `${named}.error must be a finite number >= 0, got ${String(b.error)}`);
    }
    if ((b.group !== undefined) !== grouped) {
      fail(FN, `${named}.group: either every bar has a group or none has (bars[0] ${grouped ? 'has' : 'has not'})`);
    }
    if (grouped && (typeof b.group !== 'string' || b.group.length === 0)) {
      fail(FN, `${named}.group must be a non-empty string`);
    }
    const group = b.group ?? '';
    const key = JSON.stringify([group, b.label]);
    if (seen.has(key)) fail(FN, `${named}: duplicate bar${grouped ? ` in group "${group}"` : ''}`);
    seen.add(key);
    if (!labels.includes(b.label)) labels.push(b.label);
    if (!groups.includes(group)) groups.push(group);
    if (b.error !== undefined) anyError = true;
    const error = b.error ?? 0;
    return { label: b.label, group, value: b.value, lo: b.value - error, hi: b.value + error, hasError: b.error !== undefined };
  });

  // Discrete axis labels: tilt them when they would not fit side by side.
  const positions = grouped ? groups : labels;
  const longest = Math.max(...positions.map((p) => p.length));
  const tilt = longest * 7 > (width * 0.8) / positions.length;

  const xField = grouped ? 'group' : 'label';
  const x = {
    field: xField,
    type: 'nominal' as const,
    title: opts.xLabel,
    sort: positions,
    axis: { labelAngle: tilt ? -35 : 0, labelLimit: 200 },
  };
  const xOffset = grouped ? { xOffset: { field: 'label', type: 'nominal' as const, sort: labels } } : {};
  const yScale = yDomain ? { domain: yDomain, nice: false } : { zero: true };
  const color = grouped
    ? { color: { field: 'label', type: 'nominal' as const, scale: { domain: labels, ...(labels.length > 10 ? { scheme: 'tableau20' } : {}) }, legend: { title: null } } }
    : {};

  const layers: NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']> = [
    {
      mark: { type: 'bar', clip: true, ...(grouped ? {} : { color: '#4c78a8' }) },
      encoding: {
        x,
        ...xOffset,
        y: { field: 'value', type: 'quantitative', title: opts.yLabel, scale: yScale },
        ...color,
      },
    },
  ];
  if (anyError) {
    layers.push({
      transform: [{ filter: 'datum.hasError' }],
      mark: { type: 'errorbar', ticks: { color: '#222222', size: 8 }, color: '#222222', thickness: 1.5, clip: true },
      encoding: {
        x,
        ...xOffset,
        y: { field: 'lo', type: 'quantitative', scale: yScale, title: opts.yLabel },
        y2: { field: 'hi' },
      },
    });
  }
  if (opts.showValues === true) {
    layers.push({
      mark: { type: 'text', dy: -6, baseline: 'bottom', fontSize: 10, color: '#333333' },
      encoding: {
        x,
        ...xOffset,
        y: { field: anyError ? 'hi' : 'value', type: 'quantitative', scale: yScale },
        text: { field: 'value', type: 'quantitative', format: '.3~g' },
      },
    });
  }

  if (rules.length > 0) {
    // Own data, no x encoding: each rule spans the plot. Labels alternate above and below their
    // line, so two close rules do not print over each other.
    const ruleValues = rules.map((r, i) => ({ value: r.value, label: r.label, above: i % 2 === 0 }));
    const y = { field: 'value', type: 'quantitative' as const, scale: yScale, title: opts.yLabel };
    layers.push(
      { data: { values: ruleValues }, mark: { type: 'rule', color: '#555555', strokeDash: [6, 4], strokeWidth: 1.5, clip: true }, encoding: { y } },
      { data: { values: ruleValues }, transform: [{ filter: 'datum.above' }], mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, x: 'width', fontSize: 10, color: '#333333' }, encoding: { y, text: { field: 'label' } } },
      { data: { values: ruleValues }, transform: [{ filter: '!datum.above' }], mark: { type: 'text', align: 'right', baseline: 'top', dy: 3, x: 'width', fontSize: 10, color: '#333333' }, encoding: { y, text: { field: 'label' } } },
    );
  }

  const spec: TopLevelSpec = {
    ...chartFrame(opts.title, opts.subtitle, width, height, values),
    layer: layers,
  };
  return vegaLiteToPng(spec, { scale });
}
