/**
 * Vitest settings shared by every package. Besides the usual console report, each run writes
 * reports/vitest.json; .ci/run adds those up into the plain "N passed, N failed" line CI reads.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    // Guards against a hung test, not speed checks (those are benchmarks): end-to-end CLI tests take
    // 10–30 s alone and several times that when every package tests at once on two busy cores.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
