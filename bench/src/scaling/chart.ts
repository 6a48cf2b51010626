/**
 * The log-log charts of bench:scaling: time against one axis, a colour per engine, wall time as a
 * solid line and CPU time as a dashed one (the caller's subtitle must say so: there is no legend
 * for the dashes). @simplex-vq/viz's lineChart has a log y axis but a
 * linear x axis, so the chart is a Vega-Lite spec of its own, drawn by viz's vegaLiteToPng (the
 * same theme, fonts and rasterizer as every other chart of the project).
 */
import { vegaLiteToPng } from '@simplex-vq/viz';

type Spec = Parameters<typeof vegaLiteToPng>[0];

export interface TimeSeries {
  /** The engine's label: one colour each, in the legend in the order given. */
  engine: string;
  x: number[];
  wallMs: number[];
  cpuMs: number[];
}

export interface TimeChartOptions {
  title: string;
  /** One string a line. */
  subtitle: string[];
  xLabel: string;
  yLabel: string;
  series: TimeSeries[];
}

/** The PNG bytes (1280×800) of one chart; throws when no series has a positive finite point. */
export async function timeChart(o: TimeChartOptions): Promise<Uint8Array> {
  const values: Array<{ engine: string; measure: 'wall' | 'CPU'; x: number; y: number }> = [];
  for (const s of o.series) {
    s.x.forEach((x, i) => {
      // A failed or missing point is NaN: left out (log axes take positive values only).
      for (const [measure, y] of [['wall', s.wallMs[i]!], ['CPU', s.cpuMs[i]!]] as const) {
        if (Number.isFinite(y) && y > 0 && x > 0) values.push({ engine: s.engine, measure, x, y });
      }
    });
  }
  if (values.length === 0) throw new Error(`timeChart "${o.title}": no positive finite time to draw`);
  const xs = [...new Set(values.map((v) => v.x))].sort((a, b) => a - b);
  const spec: Spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title, subtitle: o.subtitle },
    width: 640,
    height: 400,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values },
    mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 30 } },
    encoding: {
      // Base-2 log axis with a tick at each swept value (they are powers of two or near them).
      x: { field: 'x', type: 'quantitative', title: o.xLabel, scale: { type: 'log', base: 2, nice: false, domain: [xs[0]!, xs[xs.length - 1]!] }, axis: { values: xs, format: 'd' } },
      y: { field: 'y', type: 'quantitative', title: o.yLabel, scale: { type: 'log' } },
      color: { field: 'engine', type: 'nominal', scale: { domain: o.series.map((s) => s.engine) }, legend: { title: null, orient: 'right' } },
      // No legend for the dashes: with points on the lines it would show dots only. The subtitle says which is which.
      strokeDash: { field: 'measure', type: 'nominal', scale: { domain: ['wall', 'CPU'], range: [[1, 0], [6, 4]] }, legend: null },
    },
  };
  return vegaLiteToPng(spec);
}
