/**
 * bench:rounds as a user runs it (the built dist/peer/rounds.js in a child process): two rounds of
 * fresh processes at a tiny batch, a record with one sample per round for every engine, the
 * ratio of the best configurations, and exit 2 with the help for a bad option. About 20 s.
 *
 * Without a python that imports torch the PyTorch engines are skipped, with the reason printed,
 * except under CI (process.env.CI set, as .ci/run sets it), where that fails.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_DIR, findTorch } from '../trajectory/torch.js';

const SCRIPT = path.join(BENCH_DIR, 'dist', 'peer', 'rounds.js');
const torch = findTorch();
const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (torch.python === null && !ci) console.warn(`[bench] bench:rounds' PyTorch engines SKIPPED: ${torch.why}`);

const run = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });

const out = mkdtempSync(path.join(tmpdir(), 'rounds-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench:rounds', () => {
  it('times every engine in a fresh process per round and compares the best configurations', async () => {
    if (torch.python === null && ci) expect.fail(`PyTorch is missing under CI: ${torch.why}`);
    const r = await run(['--rounds', '2', '--batches', '4', '--engines', 'ours-1,torch-1', '--warmup', '0', '--steps', '2', '--min-seconds', '0', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(readFileSync(path.join(out, 'rounds-latest.json'), 'utf8')) as {
      samples: Record<string, Array<{ medianMs: number; cpuMs: number }>>;
      ratios: Record<string, number>;
      errors: string[];
    };
    expect(record.errors).toEqual([]);
    const engines = torch.python === null ? ['ours-1'] : ['ours-1', 'torch-1'];
    expect(Object.keys(record.samples).sort()).toEqual(engines.map((e) => `${e}@4`).sort());
    for (const e of engines) {
      expect(record.samples[`${e}@4`]).toHaveLength(2);
      for (const s of record.samples[`${e}@4`]!) {
        expect(s.medianMs).toBeGreaterThan(0);
        expect(Number.isFinite(s.cpuMs)).toBe(true);
      }
    }
    if (torch.python !== null) {
      expect(record.ratios['4']).toBeGreaterThan(0);
      expect(r.stdout).toMatch(/batch 4: simplex-vq, 1 thread .* against PyTorch, 1 thread .*×/);
    }
  }, 240_000);

  it('answers a bad option with exit 2, the problem and the help', async () => {
    const r = await run(['--rounds', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rounds: expected a positive integer, got 'x'/);
    expect(r.stderr).toMatch(/usage: node dist\/peer\/rounds.js/);
  });
});
