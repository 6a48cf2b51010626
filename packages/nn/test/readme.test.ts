/**
 * The README stays true: its ten-line training example runs and learns, the checkpoint-as-bytes
 * example restores the model exactly, and every public export of both entries (the main one and
 * '@simplex-vq/nn/node') is mentioned in it. (The Node file example writes into the working
 * folder; packages/packaging-test runs it from the installed tarball.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tensorApi from '@simplex-vq/tensor';
import * as nnApi from '../src/index.js';
import * as nnNodeApi from '../src/node/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The first ```ts block after a heading. */
function blockAfter(heading: string): string {
  const start = readme.indexOf(heading);
  expect(start, `README has no "${heading}"`).toBeGreaterThanOrEqual(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  expect(m, `no ts block after "${heading}"`).not.toBeNull();
  return m![1]!;
}

describe('README', () => {
  it('the example has ten lines of training code, runs, and reaches ≥ 90% accuracy', () => {
    const code = blockAfter('## Example');
    const lines = code.split('\n').filter((l) => l.trim() !== '');
    const imports = lines.filter((l) => l.startsWith('import '));
    expect(lines.length - imports.length).toBe(10);
    // The imports become destructurings of the two packages; the rest is plain JavaScript.
    const modules: Record<string, string> = { '@simplex-vq/tensor': 'tensorApi', '@simplex-vq/nn': 'nnApi' };
    const body = code.replace(/^import \{([^}]*)\} from '([^']+)';$/gm, (_, names: string, from: string) => {
      expect(modules[from], `unexpected import from ${from}`).toBeDefined();
      return `const {${names}} = ${modules[from]};`;
    });
    const logged: unknown[][] = [];
    const fakeConsole = { log: (...args: unknown[]) => logged.push(args) };
    new Function('tensorApi', 'nnApi', 'console', body)(tensorApi, nnApi, fakeConsole);
    expect(logged).toHaveLength(1);
    expect(logged[0]![0]).toBe('accuracy');
    expect(logged[0]![1]).toBeGreaterThanOrEqual(0.9);
  });

  it('the checkpoint-as-bytes example restores the model bit for bit', () => {
    const code = blockAfter('## Checkpoints: bytes anywhere');
    const modules: Record<string, string> = { '@simplex-vq/tensor': 'tensorApi', '@simplex-vq/nn': 'nnApi' };
    const body = code.replace(/^import \{([^}]*)\} from '([^']+)';$/gm, (_, names: string, from: string) => {
      expect(modules[from], `unexpected import from ${from}`).toBeDefined();
      return `const {${names}} = ${modules[from]};`;
    });
    const logged: unknown[][] = [];
    new Function('tensorApi', 'nnApi', 'console', body)(tensorApi, nnApi, { log: (...args: unknown[]) => logged.push(args) });
    expect(logged).toEqual([[50, { lr: 0.05 }, 0]]);
  });

  it('mentions every public export', () => {
    const exported = [...Object.keys(nnApi), ...Object.keys(nnNodeApi)];
    const missing = exported.filter((name) => !readme.includes(name));
    expect(missing).toEqual([]);
    expect(exported.length).toBeGreaterThan(40);
  });
});
