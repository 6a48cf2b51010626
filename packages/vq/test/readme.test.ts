/**
 * The README stays true: each ```ts block runs (as plain JavaScript, with the package imports
 * bound to the packages) and prints what its comments say, and every public export of the package
 * is mentioned in it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tensorApi from '@simplex-vq/tensor';
import * as nnApi from '@simplex-vq/nn';
import * as vqApi from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const packages: Record<string, unknown> = { '@simplex-vq/tensor': tensorApi, '@simplex-vq/nn': nnApi, '@simplex-vq/vq': vqApi };

/** Runs a block; returns what it logged. */
function run(code: string): unknown[][] {
  const body = code.replace(/^import \{([^}]*)\} from '([^']+)';$/gm, (_, names: string, from: string) => {
    expect(packages[from], `unexpected import from ${from}`).toBeDefined();
    return `const {${names}} = __packages['${from}'];`;
  });
  expect(body, 'only imports from the three packages').not.toMatch(/^\s*import\b/m);
  const logged: unknown[][] = [];
  new Function('__packages', 'console', body)(packages, { log: (...args: unknown[]) => logged.push(args) });
  return logged;
}

describe('README', () => {
  it('has the four examples', () => {
    expect(blocks).toHaveLength(4);
  });

  it('example 1: createQuantizer("knn-ce") in an autoencoder ends with every code used', () => {
    const logged = run(blocks[0]!);
    expect(logged).toEqual([['code usage', 1]]);
  });

  it('example 2: knnRegularizer on your own logits is positive and reaches the logits', () => {
    expect(run(blocks[1]!)).toEqual([[true, [64, 32]]]);
  });

  it('example 3: residual quantization, its indices and decode', () => {
    expect(run(blocks[2]!)).toEqual([[[64, 4], 4, 4], [true], [[64, 2]]]);
  });

  it('example 4: FSQ and LFQ, their codebook sizes and losses', () => {
    expect(run(blocks[3]!)).toEqual([[[8, 5, 5, 5]], [1000, 1024, [32, 16], [32]], [0, true]]);
  });

  it('mentions every public export', () => {
    const missing = Object.keys(vqApi).filter((name) => !readme.includes(name));
    expect(missing).toEqual([]);
  });

  it('lists every method of METHODS in its table', () => {
    for (const m of vqApi.METHODS) expect(readme).toContain(`| \`${m}\` |`);
  });
});
