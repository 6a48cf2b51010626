/**
 * The distributed path against PyTorch: simplex-vq's `shards: 2` against torchrun's two processes
 * with per-process KNN (ddp.ts), and a checkpoint's round trip simplex-vq → PyTorch → simplex-vq
 * (checkpoint.ts); and the tolerance rule (always).
 *
 * Without a python that imports torch: skipped with the reason printed, except under CI
 * (process.env.CI set, as .ci/run sets it), where it fails: .ci/run installs python3-torch, so a
 * missing torch there means the check silently stopped running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTorch } from '../trajectory/torch.js';
import { runCheckpointRoundTrip } from './checkpoint.js';
import { runDdpCheck } from './ddp.js';
import { FACTOR, floorOf, judge, relArray, relScalar } from './rule.js';

describe('the rule (Δ ≤ 4E + floor)', () => {
  it('passes within FACTOR × the largest variant plus the floor, and not beyond', () => {
    expect(judge('x', 4e-6, [1e-6, 5e-7], 1e-7)).toMatchObject({ envelope: 1e-6, bound: FACTOR * 1e-6 + 1e-7, pass: true });
    expect(judge('x', 4.2e-6, [1e-6, 5e-7], 1e-7).pass).toBe(false);
    expect(judge('x', 0.9 * floorOf('float32', 8), [0], floorOf('float32', 8)).pass).toBe(true);
    expect(() => judge('x', 0, [], 0)).toThrow(/variant/);
  });

  it('measures tensors as max |a − ref| / max |ref|, and NaN as a failure', () => {
    expect(relArray([1, 2, 3.5], [1, 2, 4])).toBeCloseTo(0.125, 15);
    expect(relArray([NaN], [1])).toBe(Infinity);
    expect(relScalar(NaN, 1)).toBe(Infinity);
    expect(judge('x', relScalar(NaN, 1), [1], 1).pass).toBe(false);
    expect(() => relArray([1], [1, 2])).toThrow();
  });
});

const torch = findTorch();
const missing = torch.python === null ? torch.why : null;
const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (missing && !ci) console.warn(`[bench] distributed check against PyTorch SKIPPED: ${missing}`);

describe('against PyTorch: torchrun with per-process KNN, and checkpoints both ways (batch 8)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'simplex-vq-distributed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(missing !== null && ci)('has PyTorch under CI', () => {
    throw new Error(`CI must run the distributed check against PyTorch, but ${missing}. .ci/run installs python3-torch with apt-get: see what its apt-get step printed`);
  });

  it.skipIf(missing !== null)(`shards = 2 in one process equals DDP over 2 processes, loss and every gradient${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const r = await runDdpCheck({ python: torch.python!, methods: ['knn-ce', 'knn-l2'], batch: 8, dir, tag: 'test' });
    expect(r.torch).toMatchObject({ backend: 'gloo', world: 2 });
    for (const m of r.methods) {
      for (const p of [m.float64, m.float32]) {
        expect(p.rows).toHaveLength(4 + 13); // loss, recon, commitment, knn; 13 parameters' gradients
        const failed = p.rows.filter((x) => !x.pass).map((x) => `${x.what}: Δ ${x.deviation} > ${x.bound}`);
        expect(failed, `${m.method} ${p.precision}`).toEqual([]);
      }
      // The equality says something: with shards = 1 (one KNN over all 392 rows) the KNN term and
      // the gradients move by far more than any bound, in both engines alike.
      const knnBound = m.float32.rows.find((x) => x.what === 'knn')!.bound;
      const gradBound = Math.max(...m.float32.rows.filter((x) => x.what.startsWith('grad ')).map((x) => x.bound));
      expect(m.contrast.knn).toBeGreaterThan(1000 * knnBound);
      expect(m.contrast.grad).toBeGreaterThan(100 * gradBound);
      expect(Math.abs(m.contrast.torchKnn - m.contrast.knn)).toBeLessThan(1e-9);
      // PyTorch's in-process shards = 2 is its DDP run; our shards = 1 is its shards = 1.
      expect(m.inProcessVsDdp).toBeLessThan(1e-12);
      expect(m.shards1Agreement).toBeLessThan(1e-11);
      expect(m.pass).toBe(true);
    }
    expect(r.pass).toBe(true);
  }, 180_000);

  it.skipIf(missing !== null)(`a checkpoint goes simplex-vq → PyTorch → simplex-vq: bits kept, Adam resumed, same outputs${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const r = await runCheckpointRoundTrip({ python: torch.python!, batch: 8, trainSteps: 3, dir, tag: 'test' });
    expect(r.bitExact.stateDict).toEqual({ equal: 15, total: 15 });
    expect(r.bitExact.untouched).toMatchObject({ equal: 2, total: 2 });
    expect(r.restored).toEqual({ step: 4, adamSteps: Array(13).fill(4) });
    expect(r.codes.notNearTie).toBe(0);
    const failed = [...r.before, ...r.step, ...r.after].filter((x) => !x.pass).map((x) => `${x.what}: Δ ${x.deviation} > ${x.bound}`);
    expect(failed).toEqual([]);
    expect(r.pass).toBe(true);
  }, 180_000);
});
