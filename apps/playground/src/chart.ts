/** Small line and bar charts on a canvas, redrawn whole at each update (a few hundred points). */

export interface Series {
  label: string;
  color: string;
  /** (x, y) points, x increasing. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartOptions {
  title: string;
  series: Series[];
  /** The y range; default: the data's. */
  yMin?: number;
  yMax?: number;
}

const FONT = '11px system-ui, sans-serif';
const AXIS = '#888';

/** Sizes the canvas's backing store to its CSS size × devicePixelRatio and returns a context in CSS pixels. */
export function context2d(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; width: number; height: number } {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

export function drawLineChart(canvas: HTMLCanvasElement, o: LineChartOptions): void {
  const { ctx, width, height } = context2d(canvas);
  const pad = { left: 40, right: 10, top: 20, bottom: 18 };
  const all = o.series.flatMap((s) => s.points);
  ctx.font = FONT;
  ctx.fillStyle = '#222';
  ctx.fillText(o.title, pad.left, 13);
  if (all.length === 0) return;
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(xMin + 1, ...all.map((p) => p[0]));
  let yMin = o.yMin ?? Math.min(...all.map((p) => p[1]));
  let yMax = o.yMax ?? Math.max(...all.map((p) => p[1]));
  if (!(yMax > yMin)) [yMin, yMax] = [yMin - 1, yMax + 1];
  const X = (x: number) => pad.left + ((x - xMin) / (xMax - xMin)) * (width - pad.left - pad.right);
  const Y = (y: number) => height - pad.bottom - ((y - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillStyle = AXIS;
  ctx.textAlign = 'right';
  ctx.fillText(fmt(yMax), pad.left - 4, pad.top + 8);
  ctx.fillText(fmt(yMin), pad.left - 4, height - pad.bottom);
  ctx.textAlign = 'left';
  ctx.fillText(`step ${fmt(xMin)}`, pad.left, height - 4);
  ctx.textAlign = 'right';
  ctx.fillText(`${fmt(xMax)}`, width - pad.right, height - 4);
  let legendX = width - pad.right;
  for (const s of [...o.series].reverse()) {
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, legendX, 13);
    legendX -= ctx.measureText(s.label).width + 12;
  }
  ctx.textAlign = 'left';
  for (const s of o.series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(X(x), Y(y)) : ctx.lineTo(X(x), Y(y))));
    ctx.stroke();
  }
}

/** Bars for counts (e.g. how often each code is chosen), with the title above. */
export function drawBars(canvas: HTMLCanvasElement, title: string, counts: ArrayLike<number>, color = '#4c78a8'): void {
  const { ctx, width, height } = context2d(canvas);
  ctx.font = FONT;
  ctx.fillStyle = '#222';
  ctx.fillText(title, 4, 13);
  const n = counts.length;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, counts[i]!);
  if (n === 0 || max === 0) return;
  const top = 20;
  const w = (width - 8) / n;
  ctx.fillStyle = color;
  for (let i = 0; i < n; i++) {
    const h = (counts[i]! / max) * (height - top - 4);
    ctx.fillRect(4 + i * w, height - 4 - h, Math.max(1, w - 1), h);
  }
}

/** Keeps at most `max` points by dropping every other one when full (the shape of a long run survives). */
export function pushThinned<T>(points: T[], point: T, max = 400): void {
  points.push(point);
  if (points.length > max) {
    const kept = points.filter((_, i) => i % 2 === 0 || i === points.length - 1);
    points.length = 0;
    points.push(...kept);
  }
}
