import { PNG } from 'pngjs';
import { checkNonNegativeInt, checkPositiveInt, escapeXml, fail, failType, isNumberArray } from './errors.js';
import { svgToRgba } from './render.js';
import { FONT_FAMILY } from './fonts.js';

export interface ImageGridOptions {
  /** Grayscale images, row-major, `width * height` values each, 0 = black and 1 = white (clamped). */
  images: ArrayLike<number>[];
  /** Width of one image in pixels. */
  width: number;
  /** Height of one image in pixels. */
  height: number;
  /** Tiles per row of the grid; images fill the grid row by row. */
  columns: number;
  /** Rows of the grid. Default: just enough for all images; unfilled tiles show the background. */
  rows?: number;
  /**
   * One label per grid row (e.g. "input", "reconstruction"), drawn left of the row in the bundled
   * font. Use '' for a row without a label.
   */
  labels?: string[];
  /** Integer upscaling factor (nearest neighbour). Default 1. */
  scale?: number;
  /** Pixels of background around and between tiles (after scaling). Default 2. */
  padding?: number;
  /** Gray level of the padding and of empty tiles, in [0, 1]. Default 1 (white). */
  background?: number;
}

/** Where the tile of grid cell (row, column) starts in the output image. */
export interface GridLayout {
  /** Size of the whole PNG. */
  width: number;
  height: number;
  /** Width of the label column on the left (0 without labels). */
  labelWidth: number;
  tileWidth: number;
  tileHeight: number;
  rows: number;
  columns: number;
  padding: number;
  /** Top-left pixel of the tile in grid cell (row, column). */
  tileOrigin(row: number, column: number): { x: number; y: number };
}

const FN = 'imageGrid';
const LABEL_MARGIN = 6;

interface TextRaster {
  width: number;
  height: number;
  alpha: Uint8Array;
}

/** Renders one line of text with resvg (bundled font) and keeps only its coverage, trimmed to the ink. */
function rasterizeText(text: string, fontSize: number): TextRaster {
  const w = Math.ceil(text.length * fontSize * 0.8) + 8;
  const h = Math.ceil(fontSize * 1.5);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<text x="0" y="${(fontSize * 1.1).toFixed(1)}" font-family="${FONT_FAMILY}" font-size="${fontSize}">${escapeXml(text)}</text></svg>`;
  const img = svgToRgba(svg, { background: 'transparent' });
  let right = 0;
  const alpha = new Uint8Array(img.width * img.height);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const a = img.pixels[(y * img.width + x) * 4 + 3]!;
      alpha[y * img.width + x] = a;
      if (a > 0 && x + 1 > right) right = x + 1;
    }
  }
  const trimmed = new Uint8Array(right * img.height);
  for (let y = 0; y < img.height; y++) trimmed.set(alpha.subarray(y * img.width, y * img.width + right), y * right);
  return { width: right, height: img.height, alpha: trimmed };
}

function checkOptions(opts: ImageGridOptions) {
  if (opts === null || typeof opts !== 'object') failType(FN, 'options object is required');
  const { images } = opts;
  if (!Array.isArray(images)) failType(FN, 'images must be an array of images (Float32Array or number[])');
  if (images.length === 0) fail(FN, 'images is empty: give at least one image');
  const width = checkPositiveInt(FN, 'width', opts.width);
  const height = checkPositiveInt(FN, 'height', opts.height);
  const columns = checkPositiveInt(FN, 'columns', opts.columns);
  const rows = opts.rows === undefined ? Math.ceil(images.length / columns) : checkPositiveInt(FN, 'rows', opts.rows);
  if (images.length > rows * columns) {
    fail(FN, `${images.length} images do not fit in rows × columns = ${rows} × ${columns} = ${rows * columns} tiles`);
  }
  const scale = checkPositiveInt(FN, 'scale', opts.scale ?? 1);
  const padding = checkNonNegativeInt(FN, 'padding', opts.padding ?? 2);
  const background = opts.background ?? 1;
  if (typeof background !== 'number' || !(background >= 0 && background <= 1)) {
    fail(FN, `background must be a gray level in [0, 1], got ${String(background)}`);
  }
  const expected = width * height;
  images.forEach((img, k) => {
    if (!isNumberArray(img)) failType(FN, `images[${k}] must be a Float32Array or number[]`);
    if (img.length !== expected) {
      fail(FN, `images[${k}] has ${img.length} values, expected width × height = ${width} × ${height} = ${expected}`);
    }
  });
  const labels = opts.labels;
  if (labels !== undefined) {
    if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) failType(FN, 'labels must be an array of strings');
    if (labels.length !== rows) fail(FN, `labels has ${labels.length} entries but the grid has ${rows} rows (one label per row)`);
  }
  return { images, width, height, columns, rows, scale, padding, background, labels };
}

function layoutOf(rows: number, columns: number, tileWidth: number, tileHeight: number, padding: number, labelWidth: number): GridLayout {
  return {
    width: labelWidth + columns * tileWidth + (columns + 1) * padding,
    height: rows * tileHeight + (rows + 1) * padding,
    labelWidth,
    tileWidth,
    tileHeight,
    rows,
    columns,
    padding,
    tileOrigin: (row, column) => ({
      x: labelWidth + padding + column * (tileWidth + padding),
      y: padding + row * (tileHeight + padding),
    }),
  };
}

/**
 * The geometry imageGrid will use for these options (same checks as imageGrid), e.g. to find a tile
 * in the PNG.
 */
export function imageGridLayout(opts: ImageGridOptions): GridLayout {
  const o = checkOptions(opts);
  const labelWidth = o.labels ? labelColumn(o.labels, o.height * o.scale).width : 0;
  return layoutOf(o.rows, o.columns, o.width * o.scale, o.height * o.scale, o.padding, labelWidth);
}

function labelColumn(labels: string[], tileHeight: number): { width: number; fontSize: number; rasters: TextRaster[] } {
  const fontSize = Math.max(11, Math.min(16, Math.round(tileHeight * 0.3)));
  const rasters = labels.map((l) => (l.length > 0 ? rasterizeText(l, fontSize) : { width: 0, height: 0, alpha: new Uint8Array(0) }));
  const widest = Math.max(0, ...rasters.map((r) => r.width));
  return { width: widest > 0 ? widest + 2 * LABEL_MARGIN : 0, fontSize, rasters };
}

/**
 * Tiles grayscale images into one PNG, row by row (e.g. test digits in the first row and their
 * reconstructions in the row below), upscaled by an integer factor. Pixel (i, j) of image k lands,
 * `scale` × `scale` times, at tileOrigin(row, column) + (i·scale, j·scale) with row = ⌊k / columns⌋
 * and column = k mod columns. Values are clamped to [0, 1] and mapped to round(255·v); a NaN pixel
 * is drawn red so it stands out.
 */
export function imageGrid(opts: ImageGridOptions): Uint8Array {
  const o = checkOptions(opts);
  const tileW = o.width * o.scale;
  const tileH = o.height * o.scale;
  const labels = o.labels ? labelColumn(o.labels, tileH) : undefined;
  const layout = layoutOf(o.rows, o.columns, tileW, tileH, o.padding, labels?.width ?? 0);

  const png = new PNG({ width: layout.width, height: layout.height });
  const data = png.data;
  const bg = Math.round(o.background * 255);
  for (let p = 0; p < data.length; p += 4) {
    data[p] = bg;
    data[p + 1] = bg;
    data[p + 2] = bg;
    data[p + 3] = 255;
  }

  let sawNaN = false;
  o.images.forEach((img, k) => {
    const { x: x0, y: y0 } = layout.tileOrigin(Math.floor(k / o.columns), k % o.columns);
    for (let j = 0; j < o.height; j++) {
      for (let i = 0; i < o.width; i++) {
        const v = Number(img[j * o.width + i]);
        let r: number, g: number, b: number;
        if (Number.isNaN(v)) {
          sawNaN = true;
          r = 255;
          g = 0;
          b = 0;
        } else {
          r = g = b = Math.round(255 * Math.min(1, Math.max(0, v)));
        }
        for (let dy = 0; dy < o.scale; dy++) {
          let p = ((y0 + j * o.scale + dy) * layout.width + x0 + i * o.scale) * 4;
          for (let dx = 0; dx < o.scale; dx++, p += 4) {
            data[p] = r;
            data[p + 1] = g;
            data[p + 2] = b;
          }
        }
      }
    }
  });

  if (labels) {
    const ink = o.background > 0.5 ? 0 : 255;
    labels.rasters.forEach((t, row) => {
      if (t.width === 0) return;
      const { y: tileTop } = layout.tileOrigin(row, 0);
      const top = Math.round(tileTop + (tileH - t.height) / 2);
      for (let y = 0; y < t.height; y++) {
        const py = top + y;
        if (py < 0 || py >= layout.height) continue;
        for (let x = 0; x < t.width; x++) {
          const a = t.alpha[y * t.width + x]! / 255;
          if (a === 0) continue;
          const p = (py * layout.width + LABEL_MARGIN + x) * 4;
          const v = Math.round(bg * (1 - a) + ink * a);
          data[p] = v;
          data[p + 1] = v;
          data[p + 2] = v;
        }
      }
    });
  }

  const out = PNG.sync.write(png, { colorType: sawNaN ? 2 : 0 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
