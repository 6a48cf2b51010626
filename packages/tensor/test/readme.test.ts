/**
 * The README stays true: its ```ts example runs (as plain JavaScript, with the package import
 * bound to this package, TypeScript's non-null assertions dropped) and prints what its comments
 * say.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** Runs a block; returns what it logged. */
function run(code: string): unknown[][] {
  const body = code
    .replace(/^import \{([^}]*)\} from '@simplex-vq\/tensor';$/gm, (_, names: string) => `const {${names}} = __api;`)
    .replace(/([\w\])])!(?=[.[(])/g, '$1');
  expect(body, 'only imports from @simplex-vq/tensor').not.toMatch(/^\s*import\b/m);
  const logged: unknown[][] = [];
  new Function('__api', 'console', body)(api, { log: (...args: unknown[]) => logged.push(args) });
  return logged;
}

describe('README', () => {
  it('the example trains one step and its gradCheck prints true', () => {
    expect(blocks).toHaveLength(1);
    const logged = run(blocks[0]!);
    expect(logged).toHaveLength(2);
    const [loss, grad] = logged[0]!;
    expect(typeof loss === 'number' && Number.isFinite(loss) && loss > 0).toBe(true);
    expect(Array.isArray(grad) && (grad as number[][]).length === 3 && (grad as number[][]).every((r) => r.length === 2)).toBe(true);
    expect(logged[1]).toEqual([true]); // gradCheck with x captured in the closure: runs in float64
  });
});
