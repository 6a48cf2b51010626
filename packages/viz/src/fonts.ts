/**
 * Fonts bundled with the package (from the `dejavu-fonts-ttf` registry package), so text renders the
 * same on every machine, including fresh ones that have no system fonts at all. Nothing is downloaded
 * at run time and system fonts are never consulted.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export { FONT_FAMILY } from './font-family.js';

let cached: string[] | undefined;

/** Absolute paths of the bundled TrueType files: DejaVu Sans regular and bold. */
export function bundledFontFiles(): string[] {
  cached ??= [
    require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
    require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'),
  ];
  return [...cached];
}
