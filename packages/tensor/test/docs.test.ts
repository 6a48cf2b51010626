/**
 * Runs the examples of docs/autodiff.md, so the document cannot drift from the engine.
 *
 * Convention (also stated at the top of the document):
 * - every ```ts block is one test, run in its own scope as plain JavaScript (no type annotations);
 * - `import { a, b as c } from '@simplex-vq/tensor'` (or `import * as T from ...`) is rewritten to
 *   bind those names from src/index.ts; any other import is an error;
 * - blocks check themselves with three helpers provided here: assert, expectClose, expectThrows;
 * - ```text blocks are shown, not run. Any other fence is an error, so a typo such as
 *   ```typescript cannot silently turn an example off.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as engine from '../src/index.js';
import { Tensor, type NestedArray } from '../src/index.js';

const DOC_URL = new URL('../../../docs/autodiff.md', import.meta.url);
const RUN = 'ts';
const SHOW = 'text';

interface Fence {
  lang: string;
  /** 1-based line of the opening ``` in the document. */
  line: number;
  body: string;
}

/** Fenced code blocks at the start of a line (``` or longer), with their info strings. */
function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([^`\s]*)/.exec(lines[i]!);
    if (!open) continue;
    const ticks = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !new RegExp(`^${ticks}\\s*$`).test(lines[i]!); i++) body.push(lines[i]!);
    if (i === lines.length) throw new Error(`docs/autodiff.md:${start + 1}: unclosed code fence`);
    out.push({ lang: open[2]!, line: start + 1, body: body.join('\n') });
  }
  return out;
}

// --- the helpers examples call -----------------------------------------------------------------

function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new Error(`assert: ${String(message)}`);
}

function shapeAndValues(v: unknown, what: string): { shape: number[]; values: number[] } {
  if (v instanceof Tensor) return { shape: [...v.shape], values: Array.from(v.data()) };
  if (typeof v === 'number') return { shape: [], values: [v] };
  if (Array.isArray(v)) {
    const shape: number[] = [];
    for (let d: unknown = v; Array.isArray(d); d = d[0]) shape.push(d.length);
    return { shape, values: (v as NestedArray[]).flat(Infinity as 1) as number[] };
  }
  throw new Error(`expectClose: ${what} must be a Tensor, a number or a nested array, got ${String(v)}`);
}

/** Same shape, and every value within tol·(1 + |expected|). */
function expectClose(actual: unknown, expected: unknown, tol = 1e-5): void {
  const a = shapeAndValues(actual, 'actual');
  const e = shapeAndValues(expected, 'expected');
  if (a.shape.join() !== e.shape.join()) {
    throw new Error(`expectClose: shape [${a.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
  }
  a.values.forEach((x, i) => {
    const y = e.values[i]!;
    if (!(Math.abs(x - y) <= tol * (1 + Math.abs(y)))) {
      throw new Error(`expectClose: element ${i} is ${x}, expected ${y} (tol ${tol})\n  actual:   ${a.values.join(', ')}\n  expected: ${e.values.join(', ')}`);
    }
  });
}

/** Calls fn, requires it to throw (with a message matching pattern, if given), returns the error. */
function expectThrows(fn: () => unknown, pattern?: RegExp): Error {
  try {
    fn();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (pattern && !pattern.test(e.message)) throw new Error(`expectThrows: message "${e.message}" does not match ${String(pattern)}`);
    return e;
  }
  throw new Error(`expectThrows: expected an error${pattern ? ` matching ${String(pattern)}` : ''}, none was thrown`);
}

// --- turning a block into a function ------------------------------------------------------------

const PKG = String.raw`['"]@simplex-vq/tensor['"]`;

/** Rewrites the package imports into bindings of `__tensor`, keeping every line where it was. */
function rewriteImports(code: string): string {
  const out = code
    .replace(new RegExp(String.raw`import\s*\{([^}]*)\}\s*from\s*${PKG}\s*;?`, 'g'), (_m, names: string) => `const {${names.replace(/\bas\b/g, ':')}} = __tensor;`)
    .replace(new RegExp(String.raw`import\s*\*\s*as\s+([A-Za-z_$][\w$]*)\s+from\s*${PKG}\s*;?`, 'g'), 'const $1 = __tensor;');
  const stray = /^\s*import\b.*$/m.exec(out);
  if (stray) throw new Error(`only imports from '@simplex-vq/tensor' are supported in examples: ${stray[0].trim()}`);
  return out;
}

type BlockFn = (...args: unknown[]) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => BlockFn;
const HELPERS = { assert, expectClose, expectThrows };

/** The document line an error was thrown from, when V8's stack names the block's own frame. */
function docLine(err: unknown, fenceLine: number): number | null {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const m = /<anonymous>:(\d+):\d+/.exec(stack);
  // new AsyncFunction puts the body on the third line of its source.
  return m ? fenceLine + Number(m[1]) - 2 : null;
}

async function runBlock(block: Fence): Promise<void> {
  const firstLine = block.body.split('\n')[0]!.trim();
  const where = `docs/autodiff.md:${block.line} (block starting \`${firstLine}\`)`;
  let code: string;
  try {
    code = rewriteImports(block.body);
  } catch (err) {
    throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let fn: BlockFn;
  try {
    // 'use strict' shares the first line, so the block's lines keep their numbers (see docLine).
    fn = new AsyncFunction('__tensor', ...Object.keys(HELPERS), `'use strict'; ${code}`);
  } catch (err) {
    throw new Error(`${where} does not compile; examples must be plain JavaScript, without type annotations:\n${String(err)}`);
  }
  try {
    await fn(engine, ...Object.values(HELPERS));
  } catch (err) {
    const at = docLine(err, block.line);
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`docs/autodiff.md:${at ?? block.line} (block starting \`${firstLine}\`) threw ${message}`, { cause: err });
  }
}

// --- the tests ----------------------------------------------------------------------------------

const markdown = readFileSync(DOC_URL, 'utf8');
const all = fences(markdown);
const runnable = all.filter((f) => f.lang === RUN);

describe('docs/autodiff.md', () => {
  it('has runnable examples, and only ts or text fences', () => {
    expect(runnable.length).toBeGreaterThan(0);
    const unknown = all.filter((f) => f.lang !== RUN && f.lang !== SHOW).map((f) => `line ${f.line}: \`\`\`${f.lang}`);
    expect(unknown, `use \`\`\`${RUN} for examples that run and \`\`\`${SHOW} for the rest`).toEqual([]);
  });

  runnable.forEach((block, i) => {
    const title = block.body.split('\n').find((l) => l.trim() !== '' && !/^\s*(import\b|\/\/)/.test(l))?.trim() ?? '';
    it(`example ${i + 1} (line ${block.line}): ${title}`, () => runBlock(block));
  });
});
