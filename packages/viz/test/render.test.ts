/**
 * The shared pipeline: svgToPng draws text only with the bundled DejaVu fonts (no system fonts), and
 * vegaLiteToPng turns an arbitrary Vega-Lite spec into a PNG of the expected size.
 */
import { existsSync, statSync } from 'node:fs';
import * as vega from 'vega';
import { describe, expect, it } from 'vitest';
import { bundledFontFiles, FONT_FAMILY, svgToPng, svgToRgba, vegaLiteToPng, vegaLiteToSvg } from '../src/index.js';
import { count, dark, decode, type Decoded } from './png.js';

const textSvg = (family: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="10" y="28" font-family="${family}" font-size="20">Hello viz</text></svg>`;

describe('bundled fonts', () => {
  it('are TrueType files shipped by the dejavu-fonts-ttf package', () => {
    const files = bundledFontFiles();
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(f).toMatch(/node_modules[\\/]dejavu-fonts-ttf[\\/]ttf[\\/]DejaVuSans(-Bold)?\.ttf$/);
      expect(existsSync(f)).toBe(true);
      expect(statSync(f).size).toBeGreaterThan(100_000);
    }
    expect(FONT_FAMILY).toBe('DejaVu Sans');
  });

  it('render text, and without them no text appears (system fonts are never loaded)', () => {
    const withFonts = decode(svgToPng(textSvg('DejaVu Sans')));
    expect(count(withFonts, dark)).toBeGreaterThan(100);
    // An unknown family falls back to the bundled default family.
    expect(count(decode(svgToPng(textSvg('No Such Font'))), dark)).toBeGreaterThan(100);
    // With no font files, resvg has nothing to draw glyphs with: it would only find text through
    // system fonts, which the package never loads.
    expect(count(decode(svgToPng(textSvg('DejaVu Sans'), { fontFiles: [] })), dark)).toBe(0);
  });
});

describe('svgToPng', () => {
  it('returns a PNG of the SVG size times scale', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><rect x="0" y="0" width="15" height="20" fill="#ff0000"/></svg>';
    const one = decode(svgToPng(svg));
    expect([one.width, one.height]).toEqual([30, 20]);
    expect(Array.from(one.data.subarray(0, 3))).toEqual([255, 0, 0]);
    // Right half: the default white background.
    const p = (5 * 30 + 25) * 4;
    expect(Array.from(one.data.subarray(p, p + 4))).toEqual([255, 255, 255, 255]);
    const three = decode(svgToPng(svg, { scale: 3 }));
    expect([three.width, three.height]).toEqual([90, 60]);
  });

  it('can leave the background transparent (svgToRgba)', () => {
    const img = svgToRgba('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>', { background: 'transparent' });
    expect([img.width, img.height]).toEqual([4, 4]);
    expect(img.pixels.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad input with a clear error', () => {
    expect(() => svgToPng('')).toThrow(/svgToPng: svg must be a non-empty string/);
    expect(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', { scale: 0 })).toThrow(/svgToPng: scale must be a positive/);
    expect(() => svgToPng('not an svg')).toThrow();
  });
});

describe('vegaLiteToPng', () => {
  it('renders any Vega-Lite spec with the chart theme', async () => {
    const bytes = await vegaLiteToPng(
      {
        width: 200,
        height: 100,
        autosize: { type: 'fit', contains: 'padding' },
        title: 'Points',
        data: { values: [{ a: 1, b: 2 }, { a: 2, b: 3 }] },
        mark: 'point',
        encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
      },
      { scale: 1 },
    );
    const img = decode(bytes);
    expect([img.width, img.height]).toEqual([200, 100]);
    expect(count(img, dark)).toBeGreaterThan(50);
  });
});

/** Leftmost and rightmost columns holding ink. */
function inkSpan(img: Decoded): number {
  let lo = img.width;
  let hi = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 4;
      if (img.data[p]! < 200) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    }
  }
  return hi - lo + 1;
}

describe('text layout', () => {
  it('vega measures text with the bundled fonts, matching what resvg draws', async () => {
    await vegaLiteToSvg({ data: { values: [] }, mark: 'point' }); // installs the measurement
    const width = (vega as unknown as { textMetrics: { width(item: object, text: string): number } }).textMetrics.width;
    for (const [text, size, weight] of [['KNN regularizer (CE)', 20, 'normal'], ['Codebook usage', 30, 'bold']] as const) {
      const measured = width({ fontSize: size, fontWeight: weight }, text);
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(measured) + 40}" height="${size * 2}">` +
        `<text x="20" y="${size * 1.4}" font-size="${size}" font-weight="${weight}">${text}</text></svg>`;
      const drawn = inkSpan(decode(svgToPng(svg)));
      // Advance width vs ink width differ only by the side bearings of the first and last glyph.
      expect(Math.abs(measured - drawn)).toBeLessThan(size * 0.25);
      // Vega's own guess without a canvas (0.8 em a character) is far off.
      expect(0.8 * text.length * size - drawn).toBeGreaterThan(size * 1.5);
    }
    // Text longer than an item's limit is truncated by vega, so it never measures wider than the limit.
    expect(width({ fontSize: 11, limit: 40 }, 'a very long legend label indeed')).toBe(40);
  });
});
