/** imageGrid: exact pixel placement (scale, padding, labels), clamping, NaN marking, argument errors. */
import { describe, expect, it } from 'vitest';
import { imageGrid, imageGridLayout } from '../src/index.js';
import { count, dark, decode, rgb } from './png.js';

const gray = (v: number): [number, number, number] => [v, v, v];

describe('imageGrid', () => {
  it('places every pixel, upscaled, at its tile (hand-computed positions)', () => {
    // Two 2×3 images side by side, scale 2, padding 1: tile k starts at x = 1 + k·(4 + 1), y = 1.
    const a = Float32Array.from([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const b = [1, 0.5, 0.25, 0, 0.75, 0.1];
    const img = decode(imageGrid({ images: [a, b], width: 2, height: 3, columns: 2, scale: 2, padding: 1 }));
    expect([img.width, img.height]).toEqual([1 + 4 + 1 + 4 + 1, 1 + 6 + 1]);
    const at = (x: number, y: number) => rgb(img, x, y);
    // Image a, pixel (i, j) covers x ∈ {1 + 2i, 2 + 2i}, y ∈ {1 + 2j, 2 + 2j}.
    expect(at(1, 1)).toEqual(gray(0));
    expect(at(2, 2)).toEqual(gray(0));
    expect(at(3, 1)).toEqual(gray(51)); // 0.2
    expect(at(4, 2)).toEqual(gray(51));
    expect(at(1, 3)).toEqual(gray(102)); // 0.4 at (0, 1)
    expect(at(3, 6)).toEqual(gray(255)); // 1 at (1, 2)
    // Image b starts at x = 6.
    expect(at(6, 1)).toEqual(gray(255));
    expect(at(8, 1)).toEqual(gray(128)); // 0.5 → round(127.5)
    expect(at(7, 4)).toEqual(gray(64)); // 0.25 at (0, 1)
    expect(at(9, 6)).toEqual(gray(26)); // 0.1 at (1, 2)
    // Padding is the white background.
    for (const [x, y] of [[0, 0], [5, 3], [10, 7], [3, 0], [3, 7]] as const) expect(at(x, y)).toEqual(gray(255));
  });

  it('agrees with imageGridLayout on every pixel of a larger grid, and fills empty tiles with background', () => {
    const w = 5;
    const h = 4;
    const images = Array.from({ length: 7 }, (_, k) => Array.from({ length: w * h }, (_, p) => ((k * 31 + p * 7) % 256) / 255));
    const opts = { images, width: w, height: h, columns: 3, rows: 3, scale: 3, padding: 2, background: 0.5 };
    const img = decode(imageGrid(opts));
    const layout = imageGridLayout(opts);
    expect([img.width, img.height]).toEqual([layout.width, layout.height]);
    expect([img.width, img.height]).toEqual([3 * 15 + 4 * 2, 3 * 12 + 4 * 2]);
    images.forEach((im, k) => {
      const { x, y } = layout.tileOrigin(Math.floor(k / 3), k % 3);
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < w; i++) {
          const v = Math.round(255 * im[j * w + i]!);
          for (const [dx, dy] of [[0, 0], [2, 2], [1, 2]] as const) expect(rgb(img, x + 3 * i + dx, y + 3 * j + dy)).toEqual(gray(v));
        }
      }
    });
    // Tiles 7 and 8 (row 2, columns 1 and 2) are empty: background 0.5 → 128.
    const empty = layout.tileOrigin(2, 2);
    expect(rgb(img, empty.x + 7, empty.y + 5)).toEqual(gray(128));
  });

  it('clamps values to [0, 1] and marks NaN pixels red', () => {
    const img = decode(imageGrid({ images: [[-0.5, 1.7, Number.NaN, 0.5]], width: 4, height: 1, columns: 1, padding: 0 }));
    expect([img.width, img.height]).toEqual([4, 1]);
    expect(rgb(img, 0, 0)).toEqual(gray(0));
    expect(rgb(img, 1, 0)).toEqual(gray(255));
    expect(rgb(img, 2, 0)).toEqual([255, 0, 0]);
    expect(rgb(img, 3, 0)).toEqual(gray(128));
  });

  it('draws row labels in a column on the left, shifting the tiles right', () => {
    const images = Array.from({ length: 4 }, () => new Float32Array(28 * 28));
    const opts = { images, width: 28, height: 28, columns: 2, scale: 2, labels: ['input', 'reconstruction'] };
    const img = decode(imageGrid(opts));
    const layout = imageGridLayout(opts);
    expect(layout.labelWidth).toBeGreaterThan(60);
    expect(img.width).toBe(layout.labelWidth + 2 * 56 + 3 * 2);
    const rowBand = (r: number) => ({ x0: 0, y0: layout.tileOrigin(r, 0).y, x1: layout.labelWidth, y1: layout.tileOrigin(r, 0).y + 56 });
    expect(count(img, dark, rowBand(0))).toBeGreaterThan(30);
    expect(count(img, dark, rowBand(1))).toBeGreaterThan(count(img, dark, rowBand(0))); // the longer word
    const o = layout.tileOrigin(1, 1);
    expect(rgb(img, o.x, o.y)).toEqual(gray(0));
    expect(rgb(img, o.x - 1, o.y)).toEqual(gray(255));
  });

  it('rejects bad arguments with errors naming them', () => {
    const ok = { images: [[0, 1, 0, 1]], width: 2, height: 2, columns: 1 };
    expect(() => imageGrid({ ...ok, images: [[0, 1, 0, 1], [0, 1, 0]] })).toThrow(/imageGrid: images\[1\] has 3 values, expected width × height = 2 × 2 = 4/);
    expect(() => imageGrid({ ...ok, images: [] })).toThrow(/imageGrid: images is empty/);
    expect(() => imageGrid({ ...ok, images: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], columns: 2, rows: 1 })).toThrow(
      /imageGrid: 3 images do not fit in rows × columns = 1 × 2 = 2 tiles/,
    );
    expect(() => imageGrid({ ...ok, scale: 1.5 })).toThrow(/imageGrid: scale must be a positive integer, got 1.5/);
    expect(() => imageGrid({ ...ok, width: 0 })).toThrow(/imageGrid: width must be a positive integer/);
    expect(() => imageGrid({ ...ok, padding: -1 })).toThrow(/imageGrid: padding must be a non-negative integer/);
    expect(() => imageGrid({ ...ok, labels: ['a', 'b'] })).toThrow(/imageGrid: labels has 2 entries but the grid has 1 rows/);
    expect(() => imageGrid({ ...ok, background: 2 })).toThrow(/imageGrid: background must be a gray level in \[0, 1\]/);
  });
});
