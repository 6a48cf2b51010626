import { DEFAULT_CHART_SCALE, svgToPng } from './render.js';
import { simplexPanelsSvg, type SimplexPanelsOptions } from './simplex-svg.js';

export { barycentricToXY, simplexPanelsSvg, simplexTriangle, type SimplexPanel, type SimplexPanelsOptions, type Triangle } from './simplex-svg.js';

/**
 * Probability triangles for M = 3 codes, one panel per method, side by side: vertices e1 (bottom
 * left), e2 (bottom right), e3 (top), and a dot at p1·e1 + p2·e2 + p3·e3 for every point p ∈ Δ².
 * Drawn as SVG and rasterized by resvg with the bundled font.
 */
export async function simplexPanels(opts: SimplexPanelsOptions): Promise<Uint8Array> {
  const svg = simplexPanelsSvg(opts);
  return svgToPng(svg, { scale: opts.scale ?? DEFAULT_CHART_SCALE });
}
