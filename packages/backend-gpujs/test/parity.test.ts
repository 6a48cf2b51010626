/**
 * Parity with the CPU backend, op by op and for a small model's gradients, on gpu.js's targets
 * that run in Node: 'cpu' (transpiled JavaScript) and 'webasm' (WebAssembly SIMD); and every
 * elementwise op on NaN, ±Inf and other special values against the ops' definitions, and the
 * reductions and topk on rows of NaN, ±Inf and ties against their reference (@simplex-vq/tensor's
 * elementwise.ts), exactly. The WebGL2 target runs the same suite in Chromium (browser.test.ts).
 */
import { CpuBackend } from '@simplex-vq/tensor';
import { describe, expect, it } from 'vitest';
import { createGpuJsBackend, parityCaseNames, runParitySuite } from '../src/index.js';

const reference = new CpuBackend({ threads: 1 });

for (const mode of ['cpu', 'webasm'] as const) {
  describe(`gpu.js ${mode} target`, () => {
    const backend = createGpuJsBackend({ mode });

    it('runs the target it was asked for', () => {
      expect(backend.target).toBe(mode);
      console.log(`[parity] ${backend.describe()}`);
    });

    for (const name of parityCaseNames()) {
      it(name, () => {
        const [r] = runParitySuite(backend, reference, 1e-4, (n) => n === name);
        expect(r, `case ${name} did not run`).toBeDefined();
        expect(r!.error ?? '', r!.error).toBe('');
        expect(r!.mismatches ?? [], `${name} disagrees with the definition`).toEqual([]);
        expect(r!.maxRelError, `max relative error of ${name}`).toBeLessThanOrEqual(1e-4);
        expect(r!.ok).toBe(true);
        if (r!.deviations) console.log(`[parity] ${mode} ${name}, documented deviation: ${r!.deviations.join(' | ')}`);
      });
    }
  });
}

describe('the special-value cases', () => {
  it('catch an expression that loses NaN (as GLSL max does)', () => {
    // A backend whose maximum is Math.max without NaN: the case must fail and name the element.
    const cpu = new CpuBackend({ threads: 1 });
    const lossy = Object.create(cpu) as CpuBackend;
    lossy.binary = (op, a, as, b, bs, os, dtype) => {
      if (op !== 'maximum' || as.length !== 1 || bs.length !== 1) return cpu.binary(op, a, as, b, bs, os, dtype);
      const x = a as Float32Array, y = b as Float32Array;
      return x.map((v, i) => (v > y[i]! ? v : y[i]!)); // GLSL's max(x, y): a NaN x is lost
    };
    const [r] = runParitySuite(lossy, cpu, 1e-4, (n) => n === 'special values: binary maximum');
    expect(r!.ok).toBe(false);
    expect(r!.mismatches![0]).toMatch(/^maximum\(NaN, Infinity\) = Infinity, want NaN$/);
    const [same] = runParitySuite(cpu, cpu, 1e-4, (n) => n === 'special values: binary maximum');
    expect(same!.ok).toBe(true);
  });
});

describe('the ordering cases (reductions and topk on NaN and ±Inf)', () => {
  const isOrdering = (n: string) => /^special values: (reduce|topk) /.test(n);

  it('are there: every reduction in two layouts, topk for k = 1, 3, 6 both ways', () => {
    expect(parityCaseNames().filter(isOrdering)).toHaveLength(14);
  });

  it('hold the CPU backend to the reference too', () => {
    const cpu = new CpuBackend({ threads: 1 });
    const results = runParitySuite(cpu, cpu, 0, isOrdering);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error ?? r.mismatches?.join('; ')}`)).toEqual([]);
  });

  it('catch a backend whose reductions and topk ignore NaN (as gpu.js did), naming the row', () => {
    // What GLSL comparisons do with NaN left to themselves: `v > best` is false, so NaN is skipped.
    const cpu = new CpuBackend({ threads: 1 });
    const lossy = Object.create(cpu) as CpuBackend;
    lossy.reduce = (op, x, outer, len, inner, dtype) => {
      const a = (x as Float32Array).map((v) => (v !== v ? (op === 'max' || op === 'argmax' ? -Infinity : Infinity) : v));
      return cpu.reduce(op, a, outer, len, inner, dtype);
    };
    const [r] = runParitySuite(lossy, cpu, 0, (n) => n === 'special values: reduce argmax [18,6,1]');
    expect(r!.ok).toBe(false);
    expect(r!.mismatches![0]).toBe('argmax([1, NaN, 3, -Infinity, 0, 5]) = 5, want 1');
    // topk ranking NaN first for smallest too (the CPU backend's old order).
    lossy.topk = (x, rows, cols, _inner, k, largest, dtype) => {
      if (largest) return cpu.topk(x, rows, cols, 1, k, largest, dtype);
      const a = (x as Float32Array).map((v) => (v !== v ? -Infinity : v));
      const { indices } = cpu.topk(a, rows, cols, 1, k, largest, dtype);
      return { indices, values: cpu.gather(x, rows, cols, 1, indices, k, dtype) };
    };
    const [t] = runParitySuite(lossy, cpu, 0, (n) => n === 'special values: topk k=3 largest=false');
    expect(t!.ok).toBe(false);
    expect(t!.mismatches).toContain('topk([NaN, NaN, 2, NaN, -1, 5], 3, largest=false).values[0] = NaN, want -1');
  });
});
