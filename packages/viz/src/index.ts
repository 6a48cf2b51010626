/**
 * @simplex-vq/viz: pictures for experiment reports. Plain arrays in, PNG bytes out.
 *
 * Charts are Vega-Lite specs compiled by vega-lite, drawn to SVG by vega (headless) and rasterized by
 * resvg with the bundled DejaVu Sans; the simplex panels are SVG composed here and rasterized the same
 * way; image grids are written pixel by pixel with pngjs.
 */
export { lineChart, type LineChartOptions, type LineSeries } from './line.js';
export { barChart, type Bar, type BarChartOptions, type BarRule } from './bar.js';
export { usageChart, usageSummary, type UsageChartOptions, type UsageSummary } from './usage.js';
export { imageGrid, imageGridLayout, type GridLayout, type ImageGridOptions } from './grid.js';
export {
  barycentricToXY,
  simplexPanels,
  simplexPanelsSvg,
  simplexTriangle,
  type SimplexPanel,
  type SimplexPanelsOptions,
  type Triangle,
} from './simplex.js';
export {
  chartTheme,
  svgToPng,
  svgToRgba,
  vegaLiteToPng,
  vegaLiteToSvg,
  type ChartSize,
  type RasterOptions,
} from './render.js';
export { bundledFontFiles, FONT_FAMILY } from './fonts.js';
export { isPng, writePng } from './write.js';
