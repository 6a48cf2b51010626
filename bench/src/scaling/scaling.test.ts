/**
 * bench:scaling: the plan of the sweeps (always), and a --quick run of the built script
 * (dist/scaling/run.js, in a child process as a user runs it): every series at every point of every
 * axis, with finite positive wall and CPU times, and a chart per axis. About 45 s on a busy 2-core
 * machine, most of it starting PyTorch's processes.
 *
 * Without a python that imports torch the PyTorch series are skipped, with the reason printed,
 * except under CI (process.env.CI set, as .ci/run sets it), where that fails: .ci/run installs
 * python3-torch, so a missing torch there means the comparison silently stopped running.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_DIR, findTorch } from '../trajectory/torch.js';
import { planSweeps, pointKey } from './sweep.js';

describe('planSweeps', () => {
  it('moves one size at a time from the base point, times a shared point once, and lists the batches each model needs', () => {
    const plan = planSweeps({ axes: ['batch', 'codebook', 'dim'], batches: [16, 32], codebookSizes: [64, 256], dims: [3, 32], baseBatch: 32, baseCodebookSize: 256, baseDim: 32 });
    expect(plan.sweeps.map((s) => s.points.map((p) => pointKey(p.point)))).toEqual([
      ['B16-M256-C32', 'B32-M256-C32'],
      ['B32-M64-C32', 'B32-M256-C32'],
      ['B32-M256-C3', 'B32-M256-C32'],
    ]);
    expect(plan.points.map(pointKey)).toEqual(['B16-M256-C32', 'B32-M256-C32', 'B32-M64-C32', 'B32-M256-C3']);
    expect(plan.configs).toEqual([
      { codebookSize: 256, dim: 32, batches: [16, 32] },
      { codebookSize: 64, dim: 32, batches: [32] },
      { codebookSize: 256, dim: 3, batches: [32] },
    ]);
    expect(planSweeps({ axes: ['dim'], batches: [8], codebookSizes: [8], dims: [4, 8], baseBatch: 2, baseCodebookSize: 16, baseDim: 32 }).points).toEqual([
      { batch: 2, codebookSize: 16, dim: 4 },
      { batch: 2, codebookSize: 16, dim: 8 },
    ]);
  });
});

const torch = findTorch();
const missing = torch.python === null ? torch.why : null;
const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (missing && !ci) console.warn(`[bench] bench:scaling's PyTorch series SKIPPED: ${missing}`);

const SCRIPT = path.join(BENCH_DIR, 'dist', 'scaling', 'run.js');
const OURS = ['ours-1', 'ours-pool'];
const TORCH = ['torch-1', 'torch-2'];

interface Timing {
  medianMs: number;
  cpuMsPerStep: number;
  runs: number;
}
interface ScalingRecord {
  sweeps: Array<{ axis: string; points: Array<{ value: number; results: { [engine: string]: { timing: Timing | null; knn?: { timing: Timing } | null; firstLoss: number | null; error: string | null } | null } }> }>;
  charts: string[];
  errors: string[];
  torchSkipped: string | null;
  loadAverage: { start: number[]; end: number[] };
  date: string;
}

describe('bench:scaling --quick (dist/scaling/run.js in a child process)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'simplex-vq-scaling-'));
  let run: { code: number | null; stdout: string; stderr: string; record: ScalingRecord | null };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing: build bench first (npx tsc -b tsconfig.build.json in bench/)`);
    const args = [SCRIPT, '--quick', '--out', dir, ...(torch.python ? ['--python', torch.python] : [])];
    run = await new Promise((resolve) => {
      execFile(process.execPath, args, { maxBuffer: 16 * 2 ** 20, timeout: 240_000 }, (error, stdout, stderr) => {
        const file = path.join(dir, 'scaling-latest.json');
        const record = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ScalingRecord) : null;
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr, record });
      });
    });
  }, 300_000);

  it('exits 0 and reports the date, the load at the start and end, and a table per axis', () => {
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.record).not.toBeNull();
    expect(run.record!.errors).toEqual([]);
    expect(run.record!.loadAverage.start).toHaveLength(3);
    expect(run.record!.loadAverage.end).toHaveLength(3);
    expect(run.stdout).toMatch(/- date: \d{4}-\d\d-\d\dT/);
    expect(run.stdout).toMatch(/load average at the start: [\d.]+ [\d.]+ [\d.]+/);
    expect(run.stdout).toMatch(/Load average at the end: [\d.]+ [\d.]+ [\d.]+/);
    expect(run.stdout).toMatch(/KNN share: the KNN-CE term timed alone/);
    for (const heading of ['## Against the batch size', '## Against the codebook size M', '## Against the latent dimension C']) expect(run.stdout).toContain(heading);
    expect(run.record!.sweeps.map((s) => [s.axis, s.points.length])).toEqual([['batch', 2], ['codebook', 2], ['dim', 2]]);
  });

  const checkSeries = (engines: string[]) => {
    for (const s of run.record!.sweeps) {
      for (const p of s.points) {
        for (const e of engines) {
          const r = p.results[e];
          const where = `${s.axis} = ${p.value}, ${e}`;
          expect(r, where).toBeTruthy();
          expect(r!.error, where).toBeNull();
          for (const t of [r!.timing!, r!.knn!.timing]) {
            expect(t.runs, where).toBeGreaterThanOrEqual(2);
            for (const v of [t.medianMs, t.cpuMsPerStep]) {
              expect(Number.isFinite(v) && v > 0, `${where}: ${v}`).toBe(true);
            }
          }
          expect(Number.isFinite(r!.firstLoss), where).toBe(true);
        }
      }
    }
  };

  it('times every simplex-vq series (one thread, the pool) at every point: finite positive wall and CPU times, step and KNN-CE alone', () => {
    checkSeries(OURS);
  });

  it.runIf(missing !== null && ci)('has PyTorch under CI', () => {
    throw new Error(`CI must run bench:scaling against PyTorch, but ${missing}. .ci/run installs python3-torch with apt-get: see what its apt-get step printed`);
  });

  it.skipIf(missing !== null)(`times every PyTorch series (1 and 2 threads) at every point, from the same first loss${missing ? ` (skipped: ${missing})` : ''}`, () => {
    expect(run.record!.torchSkipped).toBeNull();
    checkSeries(TORCH);
    // Every engine started from the same weights and batch: the first step's loss is the same.
    for (const s of run.record!.sweeps) {
      for (const p of s.points) {
        const losses = [...OURS, ...TORCH].map((e) => p.results[e]!.firstLoss!);
        for (const l of losses) expect(Math.abs(l - losses[0]!) / Math.abs(losses[0]!)).toBeLessThan(1e-4);
      }
    }
  });

  it('draws a log-log PNG per axis for the step and for the KNN term', () => {
    const names = run.record!.charts.map((c) => path.basename(c)).sort();
    expect(names).toEqual(['knn-batch.png', 'knn-codebook.png', 'knn-dim.png', 'step-batch.png', 'step-codebook.png', 'step-dim.png']);
    for (const c of run.record!.charts) expect([...readFileSync(c).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});
