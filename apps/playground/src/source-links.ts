/**
 * Links from the page to the repository's source files: the one place that says where they point.
 *
 * The repository has no public address here, so by default a link opens source.html, which shows
 * the copy of the file made at build time (vite.config.ts) with the line marked. A build for a
 * published copy sets VITE_SOURCE_BASE_URL (e.g. `https://github.com/<owner>/<repo>/blob/main/`)
 * and links become `<base><path>#L<line>`, GitHub's form.
 */
import opSources from 'virtual:op-sources';

export const SOURCE_BASE_URL: string = import.meta.env.VITE_SOURCE_BASE_URL ?? '';

export interface OpSource {
  file: string;
  line: number;
  doc: string;
  snippet: string;
}

/** Where each op recorded by @simplex-vq/tensor is defined (build/op-sources.ts finds them). */
export const OP_SOURCES: Record<string, OpSource> = opSources;

export function sourceUrl(file: string, line?: number): string {
  const anchor = line ? `#L${line}` : '';
  return SOURCE_BASE_URL ? `${SOURCE_BASE_URL}${file}${anchor}` : `source.html?file=${encodeURIComponent(file)}${anchor}`;
}
