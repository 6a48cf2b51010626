/**
 * The rendering pipeline every chart goes through: a Vega-Lite spec is compiled to Vega (vega-lite),
 * drawn headless to SVG (vega, renderer 'none': no canvas, no DOM), and rasterized to PNG by resvg
 * with the bundled DejaVu fonts (system fonts are never loaded, so output does not depend on the
 * machine).
 */
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type Config, type TopLevelSpec } from 'vega-lite';
import { checkPositive, fail, failType } from './errors.js';
import { bundledFontFiles, FONT_FAMILY } from './fonts.js';
import { installTextMetrics } from './metrics.js';

export interface RasterOptions {
  /** Pixels per SVG user unit (zoom factor). Default 1 for svgToPng, 2 for the charts. */
  scale?: number;
  /** Any CSS color, painted under the picture. Default 'white'; pass 'transparent' for none. */
  background?: string;
  /** TrueType/OpenType files to draw text with. Default: the bundled DejaVu Sans (regular and bold). */
  fontFiles?: string[];
}

/** Size options shared by the charts: the whole picture, axes, legend and title included. */
export interface ChartSize {
  /** Width of the whole picture in CSS pixels (before `scale`). */
  width?: number;
  /** Height of the whole picture in CSS pixels (before `scale`). */
  height?: number;
  /** Pixels per CSS pixel in the PNG. Default 2, so the PNG is (2·width)×(2·height) and stays sharp. */
  scale?: number;
}

export const DEFAULT_CHART_SCALE = 2;

/** Copies a Node Buffer's view into a plain Uint8Array over the same memory (no copy of the bytes). */
function asUint8Array(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function resvgFor(fn: string, svg: string, opts: RasterOptions = {}): Resvg {
  if (typeof svg !== 'string' || svg.length === 0) failType(fn, 'svg must be a non-empty string');
  const scale = opts.scale ?? 1;
  checkPositive(fn, 'scale', scale);
  const fontFiles = opts.fontFiles ?? bundledFontFiles();
  return new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: opts.background ?? 'white',
    font: {
      fontFiles,
      loadSystemFonts: false,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
      serifFamily: FONT_FAMILY,
      monospaceFamily: FONT_FAMILY,
    },
    shapeRendering: 2,
    textRendering: 1,
    logLevel: 'off',
  });
}

/** Rasterizes an SVG document to PNG bytes with resvg and the bundled fonts. */
export function svgToPng(svg: string, opts: RasterOptions = {}): Uint8Array {
  return asUint8Array(resvgFor('svgToPng', svg, opts).render().asPng());
}

/** Rasterizes an SVG document to raw RGBA pixels (row-major, 4 bytes a pixel). */
export function svgToRgba(svg: string, opts: RasterOptions = {}): { width: number; height: number; pixels: Uint8Array } {
  const img = resvgFor('svgToRgba', svg, opts).render();
  return { width: img.width, height: img.height, pixels: asUint8Array(img.pixels) };
}

/** The look shared by every chart: bundled font everywhere, readable sizes, white background. */
export const chartTheme: Config = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 10,
  title: {
    font: FONT_FAMILY,
    fontSize: 15,
    fontWeight: 'bold',
    subtitleFont: FONT_FAMILY,
    subtitleFontSize: 12,
    subtitleColor: '#555555',
    anchor: 'start',
    offset: 10,
  },
  axis: {
    labelFont: FONT_FAMILY,
    titleFont: FONT_FAMILY,
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    titleColor: '#333333',
    labelColor: '#333333',
    gridColor: '#e6e6e6',
    domainColor: '#888888',
    tickColor: '#888888',
  },
  legend: {
    labelFont: FONT_FAMILY,
    titleFont: FONT_FAMILY,
    labelFontSize: 11,
    titleFontSize: 12,
    labelLimit: 320,
    symbolStrokeWidth: 3,
  },
  text: { font: FONT_FAMILY },
  view: { stroke: '#dddddd' },
  range: {
    category: [
      '#4c78a8', '#f58518', '#e45756', '#54a24b', '#b279a2',
      '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e',
    ],
  },
};

type Logger = NonNullable<NonNullable<Parameters<typeof compile>[1]>['logger']>;

/** Vega's numeric log level for errors only (vega-util's `Error`). */
const LOG_ERRORS_ONLY = 1;

/**
 * A logger that keeps vega-lite's warnings (e.g. "dropping invalid values") off the console of the
 * experiment that draws the chart; real errors are still printed.
 */
function quietLogger(): Logger {
  let level = LOG_ERRORS_ONLY;
  const self: Logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return self;
    },
    error(...args: unknown[]) {
      console.error('[viz] vega-lite:', ...args);
      return self;
    },
    warn() {
      return self;
    },
    info() {
      return self;
    },
    debug() {
      return self;
    },
  };
  return self;
}

/** Compiles a Vega-Lite spec (the chart theme is merged under the spec's own config) and draws it to SVG. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  if (spec === null || typeof spec !== 'object') failType('vegaLiteToSvg', 'spec must be a Vega-Lite spec object');
  installTextMetrics();
  let vgSpec;
  try {
    vgSpec = compile(spec, { config: chartTheme, logger: quietLogger() }).spec;
  } catch (err) {
    fail('vegaLiteToSvg', `vega-lite could not compile the spec: ${(err as Error).message}`);
  }
  const view = new View(parse(vgSpec), { renderer: 'none', logLevel: LOG_ERRORS_ONLY });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Compiles and renders a Vega-Lite spec to PNG bytes (SVG via vega, raster via resvg). */
export async function vegaLiteToPng(spec: TopLevelSpec, opts: RasterOptions = {}): Promise<Uint8Array> {
  const svg = await vegaLiteToSvg(spec);
  return svgToPng(svg, { ...opts, scale: opts.scale ?? DEFAULT_CHART_SCALE });
}

/** The top-level title block, or nothing when there is no title. */
export function titleOf(title: string | undefined, subtitle: string | undefined): { title?: { text: string; subtitle?: string } } {
  if (title === undefined && subtitle === undefined) return {};
  return { title: { text: title ?? '', ...(subtitle !== undefined ? { subtitle } : {}) } };
}

/** The top-level fields every chart shares: schema, title, a size that fits the padding, the data. */
export function chartFrame(title: string | undefined, subtitle: string | undefined, width: number, height: number, values: unknown[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...titleOf(title, subtitle),
    width,
    height,
    autosize: { type: 'fit' as const, contains: 'padding' as const },
    data: { values },
  };
}
