/** The font family every picture in this package uses (bundled for PNGs; see fonts.ts). */
export const FONT_FAMILY = 'DejaVu Sans';
