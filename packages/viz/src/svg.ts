/**
 * @simplex-vq/viz/svg — the part of the package that runs in a page as well as in Node: the
 * simplex panels as SVG text and the usage numbers. Plain geometry, strings and arithmetic: it
 * imports nothing (no vega, resvg, pngjs or Node module), so a page loads it with no import map
 * and draws the SVG itself (e.g. `element.innerHTML = simplexPanelsSvg(...)`). The main entry
 * adds the charts (vega-lite) and PNG output (resvg, pngjs), which need Node.
 */
export {
  barycentricToXY,
  simplexPanelsSvg,
  simplexTriangle,
  type SimplexPanel,
  type SimplexPanelsOptions,
  type Triangle,
} from './simplex-svg.js';
export { usageSummary, type UsageSummary } from './usage-summary.js';
export { FONT_FAMILY } from './font-family.js';
