/**
 * Text measurement for vega's layout. Headless vega has no canvas, so by default it guesses a text's
 * width as 0.8 em per character, which is about a third too wide for DejaVu Sans. Legends and axis
 * titles then sit too far from their labels, and labels get cut short. Vega lets a host replace
 * `textMetrics.width`, and vl-convert does the same. Here it is replaced by the glyph advances and pair
 * kerning of the bundled fonts (read with opentype.js), the same fonts resvg draws with, so the
 * layout matches the picture.
 */
import { readFileSync } from 'node:fs';
import opentype, { type Font } from 'opentype.js';
import * as vega from 'vega';
import { bundledFontFiles } from './fonts.js';

/** The text item fields vega passes to textMetrics.width (a subset). */
interface TextItem {
  text?: unknown;
  fontSize?: number | string | null;
  fontWeight?: number | string | null;
  limit?: number;
}

interface TextMetrics {
  width: (item: TextItem, text?: unknown) => number;
}

let installed = false;

function loadFont(path: string): Font {
  const buf = readFileSync(path);
  return opentype.parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, { lowMemory: true });
}

/** Width of `text` at 1 px font size, in the given font, with pair kerning. */
function unitWidth(font: Font, text: string): number {
  let advance = 0;
  let prev: ReturnType<Font['charToGlyph']> | undefined;
  for (const ch of text) {
    const glyph = font.charToGlyph(ch);
    advance += glyph.advanceWidth ?? font.unitsPerEm * 0.6;
    if (prev) advance += font.getKerningValue(prev, glyph);
    prev = glyph;
  }
  return advance / font.unitsPerEm;
}

function isBold(weight: TextItem['fontWeight']): boolean {
  if (weight == null) return false;
  if (typeof weight === 'number') return weight >= 600;
  return weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
}

/**
 * Makes vega measure text with the bundled fonts (once per process). If the fonts cannot be read,
 * vega keeps its own estimate: the charts still render, with looser spacing.
 */
export function installTextMetrics(): void {
  if (installed) return;
  installed = true;
  const metrics = (vega as unknown as { textMetrics?: TextMetrics }).textMetrics;
  if (!metrics) return;
  let regular: Font;
  let bold: Font;
  try {
    const [regularFile, boldFile] = bundledFontFiles();
    regular = loadFont(regularFile!);
    bold = loadFont(boldFile!);
  } catch {
    return;
  }
  const cache = new Map<string, number>();
  const measure = (text: string, isBoldText: boolean): number => {
    const key = `${isBoldText ? 'b' : 'r'}${text}`;
    let w = cache.get(key);
    if (w === undefined) {
      w = unitWidth(isBoldText ? bold : regular, text);
      if (cache.size > 10_000) cache.clear();
      cache.set(key, w);
    }
    return w;
  };
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const raw = text ?? item.text;
    const lines = Array.isArray(raw) ? raw.map(String) : [raw == null ? '' : String(raw)];
    const boldText = isBold(item.fontWeight);
    const width = Math.max(0, ...lines.map((l) => measure(l.trim(), boldText) * size));
    // Vega truncates text longer than item.limit to fit the limit (with an ellipsis).
    return item.limit !== undefined && item.limit > 0 ? Math.min(width, item.limit) : width;
  };
}
