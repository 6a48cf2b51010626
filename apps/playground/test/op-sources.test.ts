/**
 * The op → source map the autodiff view links to: every op name that packages/tensor records in
 * a graph is found, at a line of its file that declares it, with its derivation comment.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scanOpSources } from '../build/op-sources.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const OPS = join(REPO, 'packages/tensor/src/ops');
const sources = scanOpSources(REPO, OPS);

describe('scanOpSources', () => {
  it('finds every op name passed to record(), unary(), binary() or extreme() in the ops folder', () => {
    const names = new Set<string>();
    for (const f of readdirSync(OPS).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(OPS, f), 'utf8').matchAll(/\b(?:unary|binary|record|extreme)\('(\w+)'/g)) names.add(m[1]!);
    }
    expect(names.size).toBeGreaterThan(30);
    expect(Object.keys(sources).sort()).toEqual([...names].sort());
  });

  it('points at the declaration, with the derivation above it', () => {
    const tanh = sources.tanh!;
    expect(tanh.file).toBe('packages/tensor/src/ops/unary.ts');
    const line = readFileSync(join(REPO, tanh.file), 'utf8').split('\n')[tanh.line - 1]!;
    expect(line).toMatch(/^export const tanh = /);
    expect(tanh.doc).toMatch(/tanh/);
    expect(tanh.snippet).toContain("unary('tanh'");
    const matmul = sources.matmul!;
    expect(readFileSync(join(REPO, matmul.file), 'utf8').split('\n')[matmul.line - 1]).toMatch(/^export function mm\(/);
    expect(matmul.snippet).toContain("record('matmul'");
    expect(sources.sum!.snippet).toContain("record('sum'");
    expect(sources.max!.snippet).toContain("extreme('max'");
  });
});
