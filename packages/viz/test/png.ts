/** Test helpers: decode PNG bytes and look at pixels. */
import { PNG } from 'pngjs';
import { expect } from 'vitest';

export interface Decoded {
  width: number;
  height: number;
  data: Uint8Array;
}

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Checks the signature and decodes with pngjs (which also checks every chunk's CRC). */
export function decode(bytes: Uint8Array): Decoded {
  expect(bytes).toBeInstanceOf(Uint8Array);
  expect(Array.from(bytes.subarray(0, 8))).toEqual(PNG_SIGNATURE);
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
}

export function rgb(img: Decoded, x: number, y: number): [number, number, number] {
  const p = (y * img.width + x) * 4;
  return [img.data[p]!, img.data[p + 1]!, img.data[p + 2]!];
}

export interface Region {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function whole(img: Decoded): Region {
  return { x0: 0, y0: 0, x1: img.width, y1: img.height };
}

/** Number of pixels in the region for which the predicate holds. */
export function count(img: Decoded, pred: (r: number, g: number, b: number) => boolean, region: Region = whole(img)): number {
  let n = 0;
  for (let y = Math.max(0, Math.floor(region.y0)); y < Math.min(img.height, Math.ceil(region.y1)); y++) {
    for (let x = Math.max(0, Math.floor(region.x0)); x < Math.min(img.width, Math.ceil(region.x1)); x++) {
      const [r, g, b] = rgb(img, x, y);
      if (pred(r, g, b)) n++;
    }
  }
  return n;
}

export const nonWhite = (r: number, g: number, b: number) => r < 250 || g < 250 || b < 250;
/** Text-dark pixels (titles are black, labels #333). */
export const dark = (r: number, g: number, b: number) => r < 90 && g < 90 && b < 90;

/** A colour within `tol` of a hex colour in every channel. */
export function near(hex: string, tol = 12) {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (r: number, g: number, b: number) => Math.abs(r - c[0]!) <= tol && Math.abs(g - c[1]!) <= tol && Math.abs(b - c[2]!) <= tol;
}

/** Mean position of the pixels that differ between two images of the same size. */
export function diffCentroid(a: Decoded, b: Decoded): { x: number; y: number; n: number } {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const p = (y * a.width + x) * 4;
      if (a.data[p] !== b.data[p] || a.data[p + 1] !== b.data[p + 1] || a.data[p + 2] !== b.data[p + 2]) {
        sx += x;
        sy += y;
        n++;
      }
    }
  }
  return { x: sx / n, y: sy / n, n };
}
