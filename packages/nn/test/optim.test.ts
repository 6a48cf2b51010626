/**
 * Optimizers against their closed forms (Adam and AdamW first steps, SGD momentum and Nesterov
 * over two steps), parameter groups, state dicts; schedules against their formulas; clipping.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '@simplex-vq/tensor';
import {
  Adam,
  AdamW,
  LambdaLR,
  Parameter,
  SGD,
  clipGradNorm,
  linearWarmup,
  warmupCosine,
  warmupLinear,
  type Optimizer,
} from '../src/index.js';
import { expectClose, flat } from './helpers.js';

const param = (v: number[]) => new Parameter(tensor(v));
const setGrad = (p: Tensor, g: number[]) => {
  p.grad = tensor(g);
};
const bits = (t: Tensor) => Array.from(new Uint32Array((t.data() as Float32Array).buffer));

const p0 = [0.5, -1.5, 2, 0.01];
const g1 = [0.3, -2, 1e-3, -0.7];
const g2 = [-0.1, 1, 0.5, 0.2];

describe('Adam and AdamW: closed-form first steps', () => {
  it('Adam: θ₁ = θ₀ − lr·g/(|g| + ε) (the bias corrections cancel the (1 − β) factors)', () => {
    const lr = 0.01, eps = 1e-8;
    const p = param(p0);
    const opt = new Adam([p], { lr, betas: [0.9, 0.999], eps });
    setGrad(p, g1);
    opt.step();
    expectClose(flat(p), p0.map((v, i) => v - (lr * g1[i]!) / (Math.abs(g1[i]!) + eps)), 1e-7, 1e-6);
    const s = opt.state.get(p)!;
    expect(s.step).toBe(1);
    expectClose(flat(s.expAvg as Tensor), g1.map((g) => 0.1 * g), 1e-8, 1e-6);
    expectClose(flat(s.expAvgSq as Tensor), g1.map((g) => 0.001 * g * g), 1e-10, 1e-5);
  });

  it('Adam with weight decay adds λθ to the gradient; a second step follows the recursion', () => {
    const lr = 0.1, wd = 0.5, eps = 1e-8, [b1, b2] = [0.8, 0.9];
    const p = param(p0);
    const opt = new Adam([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
    setGrad(p, g1);
    opt.step();
    const ga = g1.map((g, i) => g + wd * p0[i]!);
    const th1 = p0.map((v, i) => v - (lr * ga[i]!) / (Math.abs(ga[i]!) + eps));
    expectClose(flat(p), th1, 1e-6, 1e-5);
    setGrad(p, g2);
    opt.step();
    const gb = g2.map((g, i) => g + wd * th1[i]!);
    const th2 = th1.map((v, i) => {
      const m = b1 * (1 - b1) * ga[i]! + (1 - b1) * gb[i]!;
      const s = b2 * (1 - b2) * ga[i]! ** 2 + (1 - b2) * gb[i]! ** 2;
      return v - ((lr / (1 - b1 ** 2)) * m) / (Math.sqrt(s) / Math.sqrt(1 - b2 ** 2) + eps);
    });
    expectClose(flat(p), th2, 1e-6, 1e-5);
  });

  it('AdamW: θ₁ = θ₀·(1 − lr·λ) − lr·g/(|g| + ε)', () => {
    const lr = 0.05, wd = 0.1, eps = 1e-8;
    const p = param(p0);
    const opt = new AdamW([p], { lr, weightDecay: wd, eps });
    setGrad(p, g1);
    opt.step();
    expectClose(flat(p), p0.map((v, i) => v * (1 - lr * wd) - (lr * g1[i]!) / (Math.abs(g1[i]!) + eps)), 1e-7, 1e-6);
    expect(opt.paramGroups[0]!.weightDecay).toBe(0.1);
    expect(new AdamW([param([1])]).paramGroups[0]!.weightDecay).toBe(0.01); // PyTorch's default
  });

  it('amsgrad keeps the running maximum of v in the denominator', () => {
    const p = param([1]);
    const opt = new Adam([p], { lr: 0.1, amsgrad: true, betas: [0, 0.5] });
    setGrad(p, [4]);
    opt.step();
    setGrad(p, [1]);
    opt.step();
    const s = opt.state.get(p)!;
    // v₁ = 0.5·16 = 8, v₂ = 0.5·8 + 0.5·1 = 4.5; the maximum stays 8.
    expect(flat(s.maxExpAvgSq as Tensor)).toEqual([8]);
    expect(flat(s.expAvgSq as Tensor)).toEqual([4.5]);
  });

  it('refuses invalid hyperparameters', () => {
    expect(() => new Adam([param([1])], { betas: [1, 0.9] })).toThrow(/betas/);
    expect(() => new Adam([param([1])], { lr: -1 })).toThrow(/learning rate/);
    expect(() => new Adam([])).toThrow(/empty/);
    expect(() => new Adam([tensor([1])])).toThrow(/leaf tensors with requiresGrad/);
  });
});

describe('SGD', () => {
  it('plain: θ − lr·g, and weight decay adds λθ', () => {
    const p = param(p0);
    const opt = new SGD([p], { lr: 0.1, weightDecay: 0.2 });
    setGrad(p, g1);
    opt.step();
    expectClose(flat(p), p0.map((v, i) => v - 0.1 * (g1[i]! + 0.2 * v)), 1e-7, 1e-6);
  });

  it('momentum and dampening over two steps', () => {
    const lr = 0.1, mu = 0.9, tau = 0.3;
    const p = param(p0);
    const opt = new SGD([p], { lr, momentum: mu, dampening: tau });
    setGrad(p, g1);
    opt.step();
    const th1 = p0.map((v, i) => v - lr * g1[i]!); // the buffer starts as g, undampened
    expectClose(flat(p), th1, 1e-7, 1e-6);
    setGrad(p, g2);
    opt.step();
    expectClose(flat(p), th1.map((v, i) => v - lr * (mu * g1[i]! + (1 - tau) * g2[i]!)), 1e-7, 1e-6);
  });

  it('Nesterov: θ − lr·(g + μ·b)', () => {
    const lr = 0.1, mu = 0.5;
    const p = param(p0);
    const opt = new SGD([p], { lr, momentum: mu, nesterov: true });
    setGrad(p, g1);
    opt.step();
    const th1 = p0.map((v, i) => v - lr * (g1[i]! + mu * g1[i]!));
    expectClose(flat(p), th1, 1e-7, 1e-6);
    setGrad(p, g2);
    opt.step();
    expectClose(flat(p), th1.map((v, i) => v - lr * (g2[i]! + mu * (mu * g1[i]! + g2[i]!))), 1e-7, 1e-6);
    expect(() => new SGD([param([1])], { nesterov: true })).toThrow(/Nesterov/);
  });
});

describe('parameter groups and state dicts', () => {
  it('each group uses its own hyperparameters; parameters without a gradient are skipped', () => {
    const a = param([1]), b = param([1]), frozen = param([1]);
    const opt = new SGD([{ params: [a] }, { params: [b, frozen], lr: 0.5 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expectClose([...flat(a), ...flat(b), ...flat(frozen)], [0.9, 0.5, 1], 1e-7, 1e-6);
    expect(() => new SGD([{ params: [a] }, { params: [a] }])).toThrow(/more than one group/);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('a state dict restores the run exactly (bit for bit)', () => {
    const run = (opt: Optimizer<{ lr: number }>, ps: Tensor[], from: number, to: number) => {
      for (let s = from; s < to; s++) {
        ps.forEach((p, i) => setGrad(p, flat(p).map((v, j) => Math.sin(v * (s + 1) + i + j))));
        opt.step();
      }
    };
    const make = () => [param([0.1, 0.2]), param([-0.3])];
    const ps = make();
    const opt = new AdamW([{ params: [ps[0]!] }, { params: [ps[1]!], lr: 0.02 }], { lr: 0.01 });
    run(opt, ps, 0, 3);
    const saved = opt.stateDict();
    const savedParams = ps.map((p) => flat(p));
    run(opt, ps, 3, 6);

    const qs = make();
    qs.forEach((q, i) => q.assign(tensor(savedParams[i]!)));
    const opt2 = new AdamW([{ params: [qs[0]!] }, { params: [qs[1]!] }], { lr: 0.5 });
    opt2.loadStateDict(saved);
    expect(opt2.paramGroups[1]!.lr).toBe(0.02);
    run(opt2, qs, 3, 6);
    qs.forEach((q, i) => expect(bits(q)).toEqual(bits(ps[i]!)));
  });

  it('loadStateDict refuses another layout', () => {
    const opt = new Adam([param([1, 2])]);
    setGrad(opt.paramGroups[0]!.params[0]!, [1, 1]);
    opt.step();
    const sd = opt.stateDict();
    expect(() => new Adam([param([1, 2, 3])]).loadStateDict(sd)).toThrow(/state\.0\.expAvg has shape \[2\], parameter 0 has \[3\]/);
    expect(() => new Adam([param([1]), param([2])]).loadStateDict(sd)).toThrow(/group 0 has 1 parameters in the state, 2/);
  });
});

describe('schedules', () => {
  it('warmupCosine follows its formula', () => {
    const f = warmupCosine({ warmupSteps: 10, totalSteps: 110 });
    expect([0, 5, 10, 60, 110, 200].map(f)).toEqual([0, 0.5, 1, 0.5, 0, 0].map((v) => expect.closeTo(v, 12)));
    expect(f(35)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    const g = warmupCosine({ warmupSteps: 0, totalSteps: 100, minFactor: 0.1 });
    expect(g(0)).toBe(1);
    expect(g(50)).toBeCloseTo(0.55, 12);
    expect(g(100)).toBeCloseTo(0.1, 12);
  });

  it('warmupLinear and linearWarmup follow their formulas', () => {
    const f = warmupLinear({ warmupSteps: 4, totalSteps: 104, minFactor: 0.2 });
    expect(f(2)).toBe(0.5);
    expect(f(4)).toBe(1);
    expect(f(29)).toBeCloseTo(0.2 + 0.8 * 0.75, 12);
    expect(f(104)).toBeCloseTo(0.2, 12);
    expect(f(1000)).toBeCloseTo(0.2, 12);
    const w = linearWarmup(8);
    expect([0, 2, 8, 50].map(w)).toEqual([0, 0.25, 1, 1]);
    expect(() => warmupLinear({ warmupSteps: 5, totalSteps: 3 })).toThrow(/warmupSteps/);
  });

  it('rises during warm-up, then falls, and stays within [minFactor, 1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (W, extra, m) => {
        for (const make of [warmupCosine, warmupLinear]) {
          const f = make({ warmupSteps: W, totalSteps: W + extra, minFactor: m });
          for (let s = 0; s < W + extra + 5; s++) {
            const a = f(s), b = f(s + 1);
            expect(a).toBeLessThanOrEqual(1 + 1e-12);
            if (s >= W) expect(a).toBeGreaterThanOrEqual(m - 1e-12);
            if (s + 1 < W) expect(b).toBeGreaterThan(a);
            if (s >= W) expect(b).toBeLessThanOrEqual(a + 1e-12);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('LambdaLR sets each group lr = base lr × f(step), and round-trips its state', () => {
    const opt = new SGD([{ params: [param([1])] }, { params: [param([1])], lr: 1 }], { lr: 0.1 });
    const sched = new LambdaLR(opt, linearWarmup(4));
    expect(sched.getLastLr()).toEqual([0, 0]);
    sched.step();
    sched.step();
    expect(sched.getLastLr()).toEqual([0.05, 0.5]);
    const state = sched.stateDict();
    const opt2 = new SGD([{ params: [param([1])] }, { params: [param([1])], lr: 3 }], { lr: 3 });
    const sched2 = new LambdaLR(opt2, linearWarmup(4));
    sched2.loadStateDict(state);
    expect(sched2.getLastLr()).toEqual([0.05, 0.5]);
    expect(sched2.lastStep).toBe(2);
    // A second scheduler starts from the lrs the first one found (initialLr), not the scheduled ones.
    expect(opt.paramGroups.map((g) => (g as { initialLr?: number }).initialLr)).toEqual([0.1, 1]);
    const per = new LambdaLR(opt, [() => 1, () => 2]);
    expect(per.getLastLr()).toEqual([0.1, 2]);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients by maxNorm / norm when the total norm exceeds it, and returns the norm', () => {
    const a = param([0, 0]), b = param([0]);
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    expect(clipGradNorm([a, b], 6.5)).toBeCloseTo(13, 5);
    expectClose([...flat(a.grad!), ...flat(b.grad!)], [1.5, 2, 6], 1e-5, 1e-5);
    expect(clipGradNorm([a, b], 100)).toBeCloseTo(6.5, 4);
    expectClose([...flat(a.grad!), ...flat(b.grad!)], [1.5, 2, 6], 1e-5, 1e-5); // unchanged below the limit
  });

  it('supports the max norm and other p, and flags non-finite norms on request', () => {
    const a = param([0, 0]);
    setGrad(a, [-3, 2]);
    expect(clipGradNorm([a], 1, { normType: Infinity })).toBeCloseTo(3, 6);
    expectClose(flat(a.grad!), [-1, 2 / 3], 1e-5, 1e-5);
    setGrad(a, [1, 1]);
    expect(clipGradNorm([a], 10, { normType: 1 })).toBeCloseTo(2, 6);
    setGrad(a, [Infinity, 1]);
    expect(() => clipGradNorm([a], 1, { errorIfNonfinite: true })).toThrow(/Infinity/);
    expect(clipGradNorm([param([1])], 1)).toBe(0); // no gradients at all
  });
});
