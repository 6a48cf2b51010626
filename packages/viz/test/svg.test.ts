/**
 * The '@simplex-vq/viz/svg' entry runs in a page: its module graph imports nothing but its own
 * files (no vega, resvg, pngjs or Node module; the build checks it uses no Node global), and it
 * exports the very functions of the main entry. packages/packaging-test loads it in Chromium.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as main from '../src/index.js';
import * as svg from '../src/svg.js';

/** Every file the entry reaches through its imports, and every import that is not relative. */
function graph(entry: string): { files: string[]; bare: string[] } {
  const files: string[] = [];
  const bare: string[] = [];
  const visit = (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    const source = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
    for (const [, spec] of source.matchAll(/^(?:import|export)[^'"]*?from '([^']+)';$/gm)) {
      if (spec!.startsWith('./')) visit(spec!.slice(2).replace(/\.js$/, '.ts'));
      else bare.push(`${file}: ${spec}`);
    }
  };
  visit(entry);
  return { files: files.sort(), bare };
}

describe('@simplex-vq/viz/svg', () => {
  it('imports only its own files, none of those that need Node or a dependency', () => {
    const { files, bare } = graph('svg.ts');
    expect(bare).toEqual([]);
    expect(files).toEqual(['errors.ts', 'font-family.ts', 'simplex-svg.ts', 'svg.ts', 'usage-summary.ts']);
    // The build compiles exactly these files without Node types (tsconfig.svg.json).
    expect(JSON.parse(readFileSync(new URL('../tsconfig.svg.json', import.meta.url), 'utf8').replace(/^\s*\/\/.*$/gm, '')).files.map((f: string) => f.slice(4)).sort()).toEqual(files);
  });

  it('exports the same functions as the main entry', () => {
    expect(Object.keys(svg).sort()).toEqual(['FONT_FAMILY', 'barycentricToXY', 'simplexPanelsSvg', 'simplexTriangle', 'usageSummary']);
    for (const [name, value] of Object.entries(svg)) expect(main[name as keyof typeof main], name).toBe(value);
  });

  it('draws the panels as SVG text', () => {
    const text = svg.simplexPanelsSvg({ panels: [{ title: 'knn-ce', points: [[1, 0, 0], [0.2, 0.3, 0.5]] }] });
    expect(text).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(text.match(/<circle /g)).toHaveLength(2);
    expect(svg.usageSummary([3, 0, 1])).toEqual({ codes: 3, used: 2, perplexity: expect.closeTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12) });
  });
});
