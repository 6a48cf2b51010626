/**
 * The trajectory check's rules (always), and a short run of the check itself against PyTorch
 * (when a python that imports torch is found; otherwise skipped, with the reason printed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FACTOR, FLOOR_ULPS, ULP, checkCurves, checkResync, resyncFloor, type ResyncRow } from './check.js';
import { findTorch } from './torch.js';
import { runTrajectory, sampledSteps } from './trajectory.js';

const positive = fc.double({ min: 0.01, max: 10, noNaN: true });
const curve = (n: number) => fc.array(positive, { minLength: n, maxLength: n });

describe('checkCurves (the free-run rule)', () => {
  it('passes a run that is one of torch’s own variants, and fails one that is further than FACTOR × every variant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(curve(n), curve(n), curve(n))), ([torch, v1, v2]) => {
        // Δ(t) of a variant is at most E(t), which includes it.
        expect(checkCurves(v2, torch, [v1, v2], 'float32').pass).toBe(true);
        // Far beyond the envelope at the last step: fails there (or earlier).
        const last = torch.length - 1;
        const e = Math.max(...[v1, v2].flatMap((v) => v.slice(0, last + 1).map((x, i) => Math.abs(x - torch[i]!) / torch[i]!)));
        const far = torch.map((x, i) => (i === last ? x * (1 + 5 * FACTOR * e + 1e-3) : x));
        const c = checkCurves(far, torch, [v1, v2], 'float32');
        expect(c.pass).toBe(false);
        expect(c.firstFail).toBe(last + 1);
      }),
    );
  });

  it('keeps the envelope as a running maximum: a later crossing of a variant does not tighten it', () => {
    const torch = [1, 1, 1];
    const variant = [1, 1.1, 1]; // crosses torch again at step 3
    const ours = [1, 1, 1.3]; // 0.3 ≤ 4 · 0.1
    const c = checkCurves(ours, torch, [variant], 'float32');
    expect(c.steps.map((s) => s.envelope)).toEqual([0, expect.closeTo(0.1, 12), expect.closeTo(0.1, 12)]);
    expect(c.pass).toBe(true);
    expect(checkCurves([1, 1, 1.5], torch, [variant], 'float32').firstFail).toBe(3);
  });

  it('allows the floor of 128 ulps where no variant moved, and not more', () => {
    const floor = FLOOR_ULPS * ULP.float64;
    expect(checkCurves([1 + floor / 2], [1], [[1]], 'float64').pass).toBe(true);
    expect(checkCurves([1 + 2 * floor], [1], [[1]], 'float64').pass).toBe(false);
    expect(checkCurves([1 + 2 * floor], [1], [[1]], 'float32').pass).toBe(true); // 2⁻⁴⁴ is far below float32's floor
  });

  it('fails on NaN and refuses curves of different lengths', () => {
    expect(checkCurves([NaN], [1], [[1]], 'float32').pass).toBe(false);
    expect(() => checkCurves([1, 2], [1], [[1]], 'float32')).toThrow(/different lengths/);
    expect(() => checkCurves([1], [1], [], 'float32')).toThrow(/variant/);
  });
});

describe('checkResync (the same-math rule)', () => {
  const row = (step: number, loss: [number, number, number], grad: [number, number, number]): ResyncRow => ({ step, loss, grads: { w: grad } });

  it('measures each result against its own variants', () => {
    // A gradient that cancels (large variants) may differ more than a well-conditioned loss.
    const c = checkResync([row(1, [1e-15, 1e-16, 2e-16], [3e-9, 1e-12, 7e-9]), row(10, [2e-15, 0, 1e-16], [1e-15, 2e-16, 1e-15])], 32);
    expect(c.pass).toBe(true);
    expect(c.maxDeviation).toBe(3e-9);
    // The same 3e-9 where the variants moved by 1e-15 is a different function, not rounding.
    const bad = checkResync([row(1, [1e-15, 1e-16, 2e-16], [1e-15, 1e-16, 1e-15]), row(10, [2e-15, 0, 1e-16], [3e-9, 2e-16, 1e-15])], 32);
    expect(bad.pass).toBe(false);
    expect(bad.firstFail).toBe(10);
    expect(bad.worst.what).toBe('gradient of w');
  });

  it('has the plain-order summation bound of the batch as its floor', () => {
    expect(resyncFloor(32)).toBeCloseTo(25_087 * 2 ** -53, 20);
    const at = (d: number) => checkResync([row(1, [d, 0, 0], [0, 0, 0])], 32).pass;
    expect(at(0.9 * resyncFloor(32))).toBe(true);
    expect(at(1.1 * resyncFloor(32))).toBe(false);
    expect(checkResync([row(1, [NaN, 0, 0], [0, 0, 0])], 32).pass).toBe(false);
  });
});

describe('sampledSteps', () => {
  it('takes the first, every N-th and the last step', () => {
    expect(sampledSteps(100, 10)).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(sampledSteps(25, 10)).toEqual([1, 10, 20, 25]);
  });
});

// --- the check itself, short ----------------------------------------------------------------------

const torch = findTorch();
const skipReason = torch.python === null ? torch.why : null;
if (skipReason) console.warn(`[bench] trajectory against PyTorch SKIPPED: ${skipReason}`);

describe('the trajectory check against PyTorch (20 steps, knn-ce, batch 8)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'simplex-vq-trajectory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(skipReason !== null)(`passes: same math in float64, float32 curves within rounding${skipReason ? ` (skipped: ${skipReason})` : ''}`, async () => {
    const r = await runTrajectory({
      methods: ['knn-ce'],
      steps: 20,
      batch: 8,
      python: torch.python!,
      every: 10,
      ulps: 2,
      perms: 1,
      ulps64: 1,
      dir,
      tag: 'test',
      torchProgress: false,
    });
    const m = r.methods[0]!;
    expect(m.ours.float32).toHaveLength(20);
    expect(m.torch.f32).toHaveLength(20);
    expect(m.resync.rows.map((x) => x.step)).toEqual([1, 10, 20]);
    // Same state: the first float64 losses agree to rounding (the data init is in the state, not redone).
    expect(Math.abs(m.ours.float64[0]![0] - m.torch.f64![0]![0])).toBeLessThan(1e-12);
    expect(m.resync.pass, JSON.stringify(m.resync.worst)).toBe(true);
    expect(m.float32.pass, `first failing step ${m.float32.firstFail}`).toBe(true);
    expect(r.pass).toBe(true);
  }, 180_000);
});
