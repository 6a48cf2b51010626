/**
 * The small part of opentype.js (which ships no types) that metrics.ts uses: parse a font, look up
 * glyph advances and pair kerning.
 */
declare module 'opentype.js' {
  export interface Glyph {
    advanceWidth?: number;
  }
  export interface Font {
    unitsPerEm: number;
    charToGlyph(char: string): Glyph;
    getKerningValue(left: Glyph, right: Glyph): number;
  }
  const opentype: {
    parse(buffer: ArrayBuffer, options?: { lowMemory?: boolean }): Font;
  };
  export default opentype;
}
