/**
 * BatchNorm1d and BatchNorm2d against PyTorch: numbers PyTorch 1.13 printed (embedded below; no
 * Python is needed to run this file), a float64 re-computation of PyTorch's formulas over random
 * shapes and settings, properties of batch normalization, gradient checks, state dicts and
 * checkpoints, and a small training run in which the running statistics end at the data's.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, noGrad, tensor } from '@simplex-vq/tensor';
import { Adam, BatchNorm1d, BatchNorm2d, Linear, ReLU, Sequential, mseLoss, parseCheckpoint, serializeCheckpoint } from '../src/index.js';
import { expectClose, expectModuleGrad, flat, randT } from './helpers.js';

/**
 * Printed by PyTorch 1.13 (float64) for this file:
 *   bn = nn.BatchNorm2d(2); bn.weight = [1.5, −0.5]; bn.bias = [0.25, 1.0]
 *   y1 = bn(x1) (training); (y1 · r).sum().backward()       → y1, dx1, dw, db, running stats rm1, rv1
 *   bn(2·x1 − 1) (training)                                   → rm2, rv2, num_batches_tracked = 2
 *   bn.eval(); bn(x1)                                         → yEval
 *   bn1 = nn.BatchNorm1d(2, momentum=None, affine=False); ya = bn1(a); bn1(b) → ya, cm, cv
 */
const TORCH = {
  x1: [0.5, -1.0, 2.0, 1.5, 0.0, -0.5, 3.0, 1.0, -2.0, 0.25, 0.75, 4.0, -1.5, 2.5, 1.0, 0.0, 0.5, -2.0, 1.0, -1.0, 2.0, 0.5, -0.25, 3.5],
  r: [0.3, -0.7, 1.1, 0.2, 0.9, -0.4, -0.6, 0.8, 0.1, 1.3, -0.2, 0.5, 0.7, 0.4, -1.2, -0.9, 0.6, 0.3, 0.2, -1.1, 0.9, -0.3, 0.4, -0.8],
  y1: [
    0.535175088, -1.17587544, 2.24622562, 1.67587544, -0.0351750881, -0.605525264, 0.437880111, 1.0181329, 1.88851208, 1.2357277, 1.0906645, 0.147753717, -1.74622562, 2.81657579,
    1.10552526, -0.0351750881, 0.535175088, -2.31657579, 1.0181329, 1.59838569, 0.728006505, 1.1631961, 1.38079089, 0.292816914,
  ],
  dx1: [
    0.19561421, -0.806965995, 0.970054344, -0.010535924, 0.92607447, -0.510795939, 0.199145518, -0.202961284, 0.006232418, -0.346498174, 0.0876738793, -0.122028591, 0.836054547,
    0.125524048, -1.56147637, -1.12718616, 0.537824315, 0.425814456, -0.0288854472, 0.352349016, -0.234008998, 0.117195288, -0.084366882, 0.256153259,
  ],
  dw: [1.27378206, -0.145063197],
  db: [1.3, 1.2],
  rm1: [0.025, 0.10625],
  rv1: [1.08863636, 1.22400568],
  rm2: [-0.0275, 0.208125],
  rv2: [1.73431818, 2.39762784],
  yEval: [
    0.850825121, -0.857682332, 2.55933257, 1.98983009, 0.281322637, -0.288179848, 0.0984824575, 0.744297576, 1.71302025, 0.986478246, 0.825024466, -0.224425102, -1.42718482,
    3.12883506, 1.4203276, 0.281322637, 0.850825121, -1.9966873, 0.744297576, 1.3901127, 0.421390017, 0.905751356, 1.14793203, -0.0629713222,
  ],
  a: [1.0, 2.0, 4.0, 0.5, -0.5, 1.5, 3.0, 0.0, -1.0, 2.0, 1.0, 0.0],
  b: [0.0, 1.0, 1.0, 5.0, 3.0, 1.0, 2.0, 2.0, -2.0, 0.0, 1.0, 2.0],
  ya: [-0.29276952, 0.29276952, 1.4638476, -0.292768014, -1.46384007, 0.878304043, 0.87830856, -0.87830856, -1.4638476, 1.46384007, 0.292768014, -0.878304043],
  cm: [1.08333333, 1.375],
  cv: [2.88333333, 2.0375],
};

const t = (v: readonly number[], shape: number[], requiresGrad = false) => tensor(Float32Array.from(v), { shape, requiresGrad });

// --- float64 reference: PyTorch's formulas with plain loops ----------------------------------------

interface RefState {
  mean: number[];
  var: number[];
  batches: number;
}

/** Per channel c of x [N, C, S] (S = product of the spatial axes): the values of that channel. */
function channelValues(x: readonly number[], n: number, c: number, s: number, ch: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) out.push(x[(i * c + ch) * s + j]!);
  return out;
}

/** One forward of the reference; updates `state` in training (momentum null: cumulative average). */
function refBatchNorm(
  x: readonly number[],
  [n, c, s]: [number, number, number],
  o: { training: boolean; weight: number[] | null; bias: number[] | null; eps: number; momentum: number | null; state: RefState | null },
): number[] {
  const y = new Array<number>(x.length);
  if (o.training && o.state) o.state.batches += 1;
  for (let ch = 0; ch < c; ch++) {
    const v = channelValues(x, n, c, s, ch);
    let mean: number, variance: number;
    if (o.training || !o.state) {
      mean = v.reduce((a, b) => a + b, 0) / v.length;
      variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
      if (o.training && o.state) {
        const m = o.momentum ?? 1 / o.state.batches;
        o.state.mean[ch] = (1 - m) * o.state.mean[ch]! + m * mean;
        o.state.var[ch] = (1 - m) * o.state.var[ch]! + (m * variance * v.length) / (v.length - 1);
      }
    } else {
      [mean, variance] = [o.state.mean[ch]!, o.state.var[ch]!];
    }
    const w = o.weight ? o.weight[ch]! : 1, b = o.bias ? o.bias[ch]! : 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) {
      const k = (i * c + ch) * s + j;
      y[k] = ((x[k]! - mean) / Math.sqrt(variance + o.eps)) * w + b;
    }
  }
  return y;
}

describe('BatchNorm: the numbers PyTorch prints', () => {
  it('BatchNorm2d: training output, gradients of input, weight and bias, running statistics, eval output', () => {
    const bn = new BatchNorm2d(2);
    noGrad(() => {
      bn.weight!.assign(t([1.5, -0.5], [2]));
      bn.bias!.assign(t([0.25, 1.0], [2]));
    });
    const x1 = t(TORCH.x1, [2, 2, 2, 3], true);
    const y1 = bn.forward(x1);
    y1.mul(t(TORCH.r, [2, 2, 2, 3])).sum().backward();
    expectClose(flat(y1), TORCH.y1, 1e-5, 1e-5);
    expectClose(flat(x1.grad!), TORCH.dx1, 1e-5, 1e-5);
    expectClose(flat(bn.weight!.grad!), TORCH.dw, 1e-5, 1e-5);
    expectClose(flat(bn.bias!.grad!), TORCH.db, 1e-6, 1e-6);
    expectClose(flat(bn.runningMean!), TORCH.rm1, 1e-7, 1e-6);
    expectClose(flat(bn.runningVar!), TORCH.rv1, 1e-7, 1e-6);
    bn.forward(x1.detach().mul(2).sub(1));
    expectClose(flat(bn.runningMean!), TORCH.rm2, 1e-7, 1e-6);
    expectClose(flat(bn.runningVar!), TORCH.rv2, 1e-7, 1e-6);
    expect(bn.numBatchesTracked!.item()).toBe(2);
    expect(bn.numBatchesTracked!.dtype).toBe('int32');
    bn.eval();
    expectClose(flat(bn.forward(x1.detach())), TORCH.yEval, 1e-5, 1e-5);
  });

  it('BatchNorm1d on [N, C, L] with momentum null (cumulative average) and no affine', () => {
    const bn = new BatchNorm1d(2, { momentum: null, affine: false });
    expect(bn.parameters()).toEqual([]);
    expectClose(flat(bn.forward(t(TORCH.a, [2, 2, 3]))), TORCH.ya, 1e-5, 1e-5);
    bn.forward(t(TORCH.b, [2, 2, 3]));
    expectClose(flat(bn.runningMean!), TORCH.cm, 1e-6, 1e-6);
    expectClose(flat(bn.runningVar!), TORCH.cv, 1e-6, 1e-6);
  });
});

describe('BatchNorm: PyTorch’s formulas in float64, over random shapes and settings', () => {
  const caseArb = fc.record({
    kind: fc.constantFrom('1d-2', '1d-3', '2d'),
    n: fc.integer({ min: 1, max: 4 }),
    c: fc.integer({ min: 1, max: 3 }),
    l: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 3 }),
    momentum: fc.constantFrom<number | null>(0.1, 0.5, 1, null),
    eps: fc.constantFrom(1e-5, 1e-3, 0.5),
    affine: fc.boolean(),
    steps: fc.integer({ min: 1, max: 3 }),
    seed: fc.nat(10_000),
  });

  it('training outputs and running statistics after each batch, then the eval output', () => {
    fc.assert(
      fc.property(caseArb, (o) => {
        const shape = o.kind === '1d-2' ? [o.n + 1, o.c] : o.kind === '1d-3' ? [o.n, o.c, o.l + 1] : [o.n, o.c, o.h, o.l + 1];
        const s = shape.slice(2).reduce((a, b) => a * b, 1);
        const bn = o.kind === '2d' ? new BatchNorm2d(o.c, { momentum: o.momentum, eps: o.eps, affine: o.affine }) : new BatchNorm1d(o.c, { momentum: o.momentum, eps: o.eps, affine: o.affine });
        let weight: number[] | null = null, bias: number[] | null = null;
        if (o.affine) {
          weight = flat(randT([o.c], o.seed + 100));
          bias = flat(randT([o.c], o.seed + 200));
          noGrad(() => {
            bn.weight!.assign(t(weight!, [o.c]));
            bn.bias!.assign(t(bias!, [o.c]));
          });
        }
        const state: RefState = { mean: new Array<number>(o.c).fill(0), var: new Array<number>(o.c).fill(1), batches: 0 };
        const dims: [number, number, number] = [shape[0]!, o.c, s];
        for (let step = 0; step < o.steps; step++) {
          const x = randT(shape, o.seed + step, 2).add(step);
          const y = bn.forward(x);
          const ref = refBatchNorm(flat(x), dims, { training: true, weight, bias, eps: o.eps, momentum: o.momentum, state });
          expectClose(flat(y), ref, 2e-5, 2e-4);
          expectClose(flat(bn.runningMean!), state.mean, 1e-5, 1e-5);
          expectClose(flat(bn.runningVar!), state.var, 1e-5, 1e-5);
          expect(bn.numBatchesTracked!.item()).toBe(step + 1);
        }
        bn.eval();
        const x = randT(shape, o.seed + 50);
        expectClose(flat(bn.forward(x)), refBatchNorm(flat(x), dims, { training: false, weight, bias, eps: o.eps, momentum: o.momentum, state }), 2e-5, 2e-4);
      }),
      { numRuns: 60 },
    );
  });

  it('without running statistics: batch statistics in eval too, and no buffers', () => {
    const bn = new BatchNorm2d(3, { trackRunningStats: false });
    expect(bn.namedBuffers()).toEqual([]);
    const x = randT([2, 3, 2, 2], 1, 3);
    bn.eval();
    expectClose(flat(bn.forward(x)), refBatchNorm(flat(x), [2, 3, 4], { training: false, weight: [1, 1, 1], bias: [0, 0, 0], eps: 1e-5, momentum: 0.1, state: null }), 1e-5, 1e-4);
  });
});

describe('BatchNorm: properties', () => {
  it('in training, each channel of the output has mean β and variance γ²·σ²/(σ² + eps), whatever the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.nat(10_000), fc.double({ min: 0.1, max: 30, noNaN: true }), (n, c, seed, scale) => {
        const bn = new BatchNorm2d(c);
        const gamma = flat(randT([c], seed + 1)), beta = flat(randT([c], seed + 2));
        noGrad(() => {
          bn.weight!.assign(t(gamma, [c]));
          bn.bias!.assign(t(beta, [c]));
        });
        const x = randT([n, c, 2, 3], seed, scale).add(5);
        const y = flat(bn.forward(x));
        for (let ch = 0; ch < c; ch++) {
          const xv = channelValues(flat(x), n, c, 6, ch), yv = channelValues(y, n, c, 6, ch);
          const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
          const variance = (v: number[]) => v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / v.length;
          const s2 = variance(xv);
          expect(Math.abs(mean(yv) - beta[ch]!)).toBeLessThan(1e-4 * (1 + Math.abs(gamma[ch]!)));
          expect(variance(yv)).toBeCloseTo((gamma[ch]! ** 2 * s2) / (s2 + 1e-5), 3);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('in training (eps = 0), the output does not change when a channel is scaled by a > 0 and shifted: the statistics are per channel', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 3 }), fc.nat(10_000), (n, c, seed) => {
        const bn = new BatchNorm1d(c, { eps: 0 });
        const x = randT([n, c, 3], seed);
        const g = new Generator(seed + 1);
        const a = Array.from({ length: c }, () => 0.2 + 3 * g.random()), b = Array.from({ length: c }, () => 4 * g.normal());
        const moved = x.mul(t(a, [1, c, 1])).add(t(b, [1, c, 1]));
        expectClose(flat(bn.forward(moved)), flat(bn.forward(x)), 1e-4, 1e-3);
      }),
      { numRuns: 40 },
    );
  });

  it('eval is the affine map the running statistics define, the same for any batch size (even one row)', () => {
    const bn = new BatchNorm1d(3);
    for (let i = 0; i < 4; i++) bn.forward(randT([8, 3], i, 2).add(1));
    bn.eval();
    const x = randT([5, 3], 9);
    const whole = flat(bn.forward(x));
    const rows = Array.from({ length: 5 }, (_, i) => flat(bn.forward(x.slice(0, i, i + 1))));
    expectClose(rows.flat(), whole, 1e-6, 1e-6);
  });
});

describe('BatchNorm: gradients (gradCheck, float64)', () => {
  it('training mode, through the batch mean and variance, for 1-d and 2-d inputs and the affine parameters', () => {
    fc.assert(
      fc.property(fc.constantFrom('1d-2', '1d-3', '2d'), fc.nat(10_000), (kind, seed) => {
        const bn = kind === '2d' ? new BatchNorm2d(2) : new BatchNorm1d(2);
        noGrad(() => {
          bn.weight!.assign(randT([2], seed + 1));
          bn.bias!.assign(randT([2], seed + 2));
        });
        const shape = kind === '1d-2' ? [4, 2] : kind === '1d-3' ? [3, 2, 2] : [2, 2, 2, 2];
        expectModuleGrad(bn, [randT(shape, seed)], (x) => bn.forward(x), { atol: 1e-6, rtol: 1e-4 });
      }),
      { numRuns: 12 },
    );
  });

  it('eval mode: the affine map of the running statistics', () => {
    const bn = new BatchNorm2d(2);
    bn.forward(randT([3, 2, 2, 2], 1, 2));
    bn.eval();
    expectModuleGrad(bn, [randT([2, 2, 2, 2], 2)], (x) => bn.forward(x), { atol: 1e-6, rtol: 1e-4 });
  });
});

describe('BatchNorm: state, checkpoints, errors', () => {
  it('the state dict holds weight, bias and the running statistics under PyTorch’s names (camelCase)', () => {
    const bn = new BatchNorm2d(4);
    expect(Object.keys(bn.stateDict()).sort()).toEqual(['bias', 'numBatchesTracked', 'runningMean', 'runningVar', 'weight']);
    expect(bn.namedParameters().map(([k]) => k)).toEqual(['weight', 'bias']);
    expect(flat(bn.runningMean!)).toEqual([0, 0, 0, 0]);
    expect(flat(bn.runningVar!)).toEqual([1, 1, 1, 1]);
    expect(String(bn)).toContain('BatchNorm2d(4, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)');
  });

  it('a checkpoint restores the running statistics: the restored layer evaluates the same', () => {
    const net = new Sequential(new Linear(3, 4, { generator: new Generator(0) }), new BatchNorm1d(4));
    for (let i = 0; i < 3; i++) net.forward(randT([6, 3], i, 2));
    const bytes = serializeCheckpoint({ model: net, step: 3 });
    const copy = new Sequential(new Linear(3, 4, { generator: new Generator(1) }), new BatchNorm1d(4));
    parseCheckpoint(bytes, 'bn.safetensors', { model: copy });
    const bn = copy.at(1) as BatchNorm1d;
    expect(flat(bn.runningMean!)).toEqual(flat((net.at(1) as BatchNorm1d).runningMean!));
    expect(bn.numBatchesTracked!.item()).toBe(3);
    net.eval();
    copy.eval();
    const x = randT([2, 3], 7);
    expect(flat(copy.forward(x))).toEqual(flat(net.forward(x)));
    // resetRunningStats: back to the start.
    bn.resetRunningStats();
    expect([flat(bn.runningMean!), flat(bn.runningVar!), bn.numBatchesTracked!.item()]).toEqual([[0, 0, 0, 0], [1, 1, 1, 1], 0]);
  });

  it('refuses inputs of the wrong rank or channel count, one value per channel in training, and bad settings', () => {
    expect(() => new BatchNorm1d(3).forward(randT([2, 4], 0))).toThrow(ShapeError);
    expect(() => new BatchNorm1d(3).forward(randT([2, 4], 0))).toThrow(/BatchNorm1d: expects input \[N, C\] or \[N, C, L\] with C = 3, got \[2, 4\]/);
    expect(() => new BatchNorm2d(3).forward(randT([2, 3, 4], 0))).toThrow(/BatchNorm2d: expects input \[N, C, H, W\] with C = 3, got \[2, 3, 4\]/);
    expect(() => new BatchNorm1d(3).forward(randT([1, 3], 0))).toThrow(/needs more than 1 value per channel in training, got input \[1, 3\]/);
    expect(() => new BatchNorm2d(2).forward(randT([1, 2, 1, 1], 0))).toThrow(/more than 1 value per channel/);
    const bn = new BatchNorm1d(3);
    bn.eval();
    expect(bn.forward(randT([1, 3], 0)).shape).toEqual([1, 3]);
    expect(() => new BatchNorm1d(0)).toThrow(/numFeatures must be a positive integer, got 0/);
    expect(() => new BatchNorm1d(2, { momentum: 1.5 })).toThrow(/momentum must be in \[0, 1\] or null, got 1.5/);
    expect(() => new BatchNorm1d(2, { eps: -1 })).toThrow(/eps must be a finite number ≥ 0/);
  });
});

describe('BatchNorm: training', () => {
  it('an MLP with BatchNorm1d fits a regression; its running statistics end at the data’s, so eval agrees with training mode', () => {
    const g = new Generator(3);
    const x = randT([64, 2], 11, 3).add(tensor([5, -2]));
    const target = noGrad(() => x.slice(1, 0, 1).mul(x.slice(1, 1, 2)).div(10));
    const net = new Sequential(new Linear(2, 16, { generator: g }), new BatchNorm1d(16), new ReLU(), new Linear(16, 1, { generator: g }));
    const opt = new Adam(net.parameters(), { lr: 0.02 });
    let first = NaN, last = NaN;
    for (let step = 0; step < 200; step++) {
      opt.zeroGrad();
      const loss = mseLoss(net.forward(x), target);
      loss.backward();
      opt.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first / 20);
    // With the weights fixed, 80 more training-mode passes over the batch bring the running
    // statistics to the batch's (within 0.9^80 ≈ 2e-4 of the way; unbiased variance: ×64/63).
    for (let i = 0; i < 80; i++) noGrad(() => net.forward(x));
    const bn = net.at(1) as BatchNorm1d;
    const h = noGrad(() => (net.at(0) as Linear).forward(x));
    expectClose(flat(bn.runningMean!), flat(h.mean(0)), 1e-3, 1e-3);
    expectClose(flat(bn.runningVar!), flat(h.var(0, { correction: 1 })), 1e-3, 1e-3);
    const train = flat(noGrad(() => net.forward(x)));
    net.eval();
    const evalOut = flat(net.forward(x));
    // Not equal: eval divides by the unbiased √(σ²·64/63), training by the biased σ (0.8% apart).
    expectClose(evalOut, train, 3e-2, 3e-2);
    expect(mseLoss(net.forward(x), target).item()).toBeLessThan(first / 10);
  });
});
