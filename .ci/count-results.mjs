// Adds up the vitest JSON reports (reports/vitest.json in each workspace) into one plain line,
// "N passed, N failed[, N skipped]", the only test summary CI reads. Exits 1 when nothing ran
// or something failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0, failed = 0, skipped = 0;
const seen = [];
for (const group of ['packages', 'apps', 'bench']) {
  if (!existsSync(group)) continue;
  const dirs = group === 'bench' ? ['.'] : readdirSync(group);
  for (const dir of dirs) {
    const file = join(group, dir, 'reports', 'vitest.json');
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    // A test file that failed to load has no failed test in it; count it as one failure.
    for (const file of r.testResults ?? []) {
      if (file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed')) failed += 1;
    }
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    seen.push(`${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  }
}
for (const line of seen) console.log(`  ${line}`);
if (seen.length === 0) failed += 1; // no report at all: the test command did not run
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
