/**
 * The simplex panels as SVG text: plain geometry and strings, no dependency, so this file (and the
 * `@simplex-vq/viz/svg` entry that exports it) runs in a page as well as in Node. simplex.ts
 * rasterizes the same SVG to PNG.
 */
import { checkPositive, escapeXml, fail, failType, isNumberArray } from './errors.js';
import { FONT_FAMILY } from './font-family.js';

export interface SimplexPanel {
  /** Shown above the panel, e.g. the method ("none", "perplexity", "knn-l2", "knn-ce"). */
  title: string;
  /** A second, smaller line under the title, e.g. a metric. */
  subtitle?: string;
  /** Points of the probability simplex Δ²: (p1, p2, p3) with p_i >= 0 and p1 + p2 + p3 = 1. */
  points: Array<ArrayLike<number>>;
}

export interface SimplexPanelsOptions {
  panels: SimplexPanel[];
  /** A line above all panels. */
  title?: string;
  /** Width of the whole figure in CSS pixels (before `scale`). Default 260 per panel column. */
  width?: number;
  /** Height of the whole figure in CSS pixels (before `scale`). Default 270 per panel row (+30 with a title). */
  height?: number;
  /** Panels per row. Default: all panels side by side. */
  columns?: number;
  /** Pixels per CSS pixel in the PNG. Default 2. */
  scale?: number;
  /** Dot radius in CSS pixels. Default 2.5. */
  pointRadius?: number;
  /** Dot opacity, so dense regions show darker. Default 0.35. */
  opacity?: number;
  /** Dot colour (any SVG colour). Default '#4c78a8'. */
  color?: string;
}

/** Corners of one panel's triangle in figure coordinates: e1 bottom-left, e2 bottom-right, e3 top. */
export interface Triangle {
  e1: [number, number];
  e2: [number, number];
  e3: [number, number];
}

const FN = 'simplexPanels';
/** How far a coordinate may go below 0, or the sum stray from 1, before a point is refused. */
const TOLERANCE = 1e-3;

/** Maps barycentric coordinates (p1, p2, p3) to the point p1·e1 + p2·e2 + p3·e3 of a triangle. */
export function barycentricToXY(p: ArrayLike<number>, t: Triangle): [number, number] {
  const s = p[0]! + p[1]! + p[2]!;
  const a = p[0]! / s;
  const b = p[1]! / s;
  const c = p[2]! / s;
  return [a * t.e1[0] + b * t.e2[0] + c * t.e3[0], a * t.e1[1] + b * t.e2[1] + c * t.e3[1]];
}

interface Layout {
  width: number;
  height: number;
  columns: number;
  rows: number;
  panelWidth: number;
  panelHeight: number;
  top: number;
  /** Whether any panel has a subtitle (then every panel leaves room for one, so triangles match). */
  subtitles: boolean;
}

function checkOptions(opts: SimplexPanelsOptions): Layout {
  if (opts === null || typeof opts !== 'object') failType(FN, 'options object is required');
  const { panels } = opts;
  if (!Array.isArray(panels)) failType(FN, 'panels must be an array of { title, points }');
  if (panels.length === 0) fail(FN, 'panels is empty: give at least one { title, points }');
  const columns = opts.columns ?? panels.length;
  if (!Number.isInteger(columns) || columns < 1) fail(FN, `columns must be a positive integer, got ${String(columns)}`);
  const rows = Math.ceil(panels.length / columns);
  const top = opts.title !== undefined ? 30 : 0;
  const width = checkPositive(FN, 'width', opts.width ?? 260 * Math.min(columns, panels.length));
  const height = checkPositive(FN, 'height', opts.height ?? top + 270 * rows);
  if (opts.pointRadius !== undefined) checkPositive(FN, 'pointRadius', opts.pointRadius);
  if (opts.opacity !== undefined && !(opts.opacity > 0 && opts.opacity <= 1)) {
    fail(FN, `opacity must be in (0, 1], got ${String(opts.opacity)}`);
  }
  if (opts.scale !== undefined) checkPositive(FN, 'scale', opts.scale);
  panels.forEach((panel, i) => {
    if (panel === null || typeof panel !== 'object') failType(FN, `panels[${i}] must be an object { title, points }`);
    if (typeof panel.title !== 'string') failType(FN, `panels[${i}].title must be a string`);
    if (panel.subtitle !== undefined && typeof panel.subtitle !== 'string') failType(FN, `panels[${i}].subtitle must be a string`);
    if (!Array.isArray(panel.points)) failType(FN, `panels[${i}].points must be an array of [p1, p2, p3]`);
    panel.points.forEach((p, j) => {
      const where = `panels[${i}].points[${j}]`;
      if (!isNumberArray(p) || p.length !== 3) fail(FN, `${where} must be three numbers [p1, p2, p3]`);
      let sum = 0;
      for (let k = 0; k < 3; k++) {
        const v = p[k]!;
        if (!Number.isFinite(v) || v < -TOLERANCE) fail(FN, `${where} must hold finite probabilities >= 0, got [${Array.from(p).join(', ')}]`);
        sum += v;
      }
      if (Math.abs(sum - 1) > TOLERANCE) {
        fail(FN, `${where} must sum to 1 (a point of the simplex), got sum ${sum} for [${Array.from(p).join(', ')}]`);
      }
    });
  });
  const panelWidth = width / Math.min(columns, panels.length);
  const panelHeight = (height - top) / rows;
  return { width, height, columns, rows, panelWidth, panelHeight, top, subtitles: panels.some((p) => p.subtitle !== undefined) };
}

/** The triangle of panel `index` for these options, in CSS pixels (multiply by `scale` for PNG pixels). */
export function simplexTriangle(opts: SimplexPanelsOptions, index: number): Triangle {
  const layout = checkOptions(opts);
  if (!Number.isInteger(index) || index < 0 || index >= opts.panels.length) {
    fail('simplexTriangle', `index must be a panel index in [0, ${opts.panels.length - 1}], got ${String(index)}`);
  }
  return triangleOf(layout, index);
}

function triangleOf(l: Layout, index: number): Triangle {
  const col = index % l.columns;
  const row = Math.floor(index / l.columns);
  const x0 = col * l.panelWidth;
  const y0 = l.top + row * l.panelHeight;
  const headroom = l.subtitles ? 62 : 46; // title (+ subtitle) and the e3 label; same in every panel
  const footroom = 26; // e1 / e2 labels
  const side = Math.max(10, Math.min(l.panelWidth - 40, ((l.panelHeight - headroom - footroom) * 2) / Math.sqrt(3)));
  const triH = (side * Math.sqrt(3)) / 2;
  const cx = x0 + l.panelWidth / 2;
  const bottom = y0 + headroom + (l.panelHeight - headroom - footroom + triH) / 2;
  return { e1: [cx - side / 2, bottom], e2: [cx + side / 2, bottom], e3: [cx, bottom - triH] };
}

const f = (v: number) => (Math.round(v * 100) / 100).toString();

function panelSvg(panel: SimplexPanel, t: Triangle, l: Layout, index: number, o: Required<Pick<SimplexPanelsOptions, 'pointRadius' | 'opacity' | 'color'>>): string {
  const parts: string[] = [];
  const cx = t.e3[0];
  const y0 = l.top + Math.floor(index / l.columns) * l.panelHeight;
  parts.push(`<text x="${f(cx)}" y="${f(y0 + 20)}" text-anchor="middle" font-size="15" font-weight="bold" fill="#222">${escapeXml(panel.title)}</text>`);
  if (panel.subtitle !== undefined) {
    parts.push(`<text x="${f(cx)}" y="${f(y0 + 37)}" text-anchor="middle" font-size="12" fill="#555">${escapeXml(panel.subtitle)}</text>`);
  }
  // Reference lines p_i = 0.25, 0.5, 0.75.
  const grid: string[] = [];
  for (const v of [0.25, 0.5, 0.75]) {
    const w = 1 - v;
    const pairs: Array<[number[], number[]]> = [
      [[v, w, 0], [v, 0, w]],
      [[w, v, 0], [0, v, w]],
      [[w, 0, v], [0, w, v]],
    ];
    for (const [a, b] of pairs) {
      const [ax, ay] = barycentricToXY(a, t);
      const [bx, by] = barycentricToXY(b, t);
      grid.push(`M${f(ax)} ${f(ay)}L${f(bx)} ${f(by)}`);
    }
  }
  parts.push(`<path d="${grid.join('')}" stroke="#e3e3e3" stroke-width="1" fill="none"/>`);
  parts.push(
    `<path d="M${f(t.e1[0])} ${f(t.e1[1])}L${f(t.e2[0])} ${f(t.e2[1])}L${f(t.e3[0])} ${f(t.e3[1])}Z" stroke="#555" stroke-width="1.2" fill="none"/>`,
  );
  const dots = panel.points.map((p) => {
    const [x, y] = barycentricToXY(p, t);
    return `<circle cx="${f(x)}" cy="${f(y)}" r="${o.pointRadius}"/>`;
  });
  parts.push(`<g fill="${escapeXml(o.color)}" fill-opacity="${o.opacity}">${dots.join('')}</g>`);
  parts.push(`<text x="${f(t.e1[0] - 4)}" y="${f(t.e1[1] + 17)}" text-anchor="middle" font-size="13" fill="#333">e1</text>`);
  parts.push(`<text x="${f(t.e2[0] + 4)}" y="${f(t.e2[1] + 17)}" text-anchor="middle" font-size="13" fill="#333">e2</text>`);
  parts.push(`<text x="${f(t.e3[0])}" y="${f(t.e3[1] - 7)}" text-anchor="middle" font-size="13" fill="#333">e3</text>`);
  return parts.join('');
}

/** The SVG that simplexPanels rasterizes. */
export function simplexPanelsSvg(opts: SimplexPanelsOptions): string {
  const l = checkOptions(opts);
  const style = {
    pointRadius: opts.pointRadius ?? 2.5,
    opacity: opts.opacity ?? 0.35,
    color: opts.color ?? '#4c78a8',
  };
  const body = opts.panels.map((panel, i) => panelSvg(panel, triangleOf(l, i), l, i, style));
  const title =
    opts.title !== undefined
      ? `<text x="10" y="21" font-size="16" font-weight="bold" fill="#222">${escapeXml(opts.title)}</text>`
      : '';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f(l.width)}" height="${f(l.height)}" viewBox="0 0 ${f(l.width)} ${f(l.height)}" font-family="${FONT_FAMILY}">` +
    `<rect width="100%" height="100%" fill="white"/>${title}${body.join('')}</svg>`
  );
}
