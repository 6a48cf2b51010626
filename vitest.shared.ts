/**
 * Vitest settings shared by every package. Besides the usual console report, each run writes
 * reports/vitest.json; .ci/run adds those up into the plain "N passed, N failed" line CI reads.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
