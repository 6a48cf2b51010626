/**
 * Parity with the CPU backend, op by op and for a small model's gradients, on gpu.js's targets
 * that run in Node: 'cpu' (transpiled JavaScript) and 'webasm' (WebAssembly SIMD). The WebGL2
 * target runs the same suite in Chromium (browser.test.ts).
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
        expect(r!.maxRelError, `max relative error of ${name}`).toBeLessThanOrEqual(1e-4);
      });
    }
  });
}
