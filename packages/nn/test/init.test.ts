/** Initialization: fans, gains, the bounds and variances of each scheme, seeding, in-place writes. */
import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, zeros } from '@simplex-vq/tensor';
import { Linear, Parameter, init } from '../src/index.js';
import { flat } from './helpers.js';

const stats = (v: number[]) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, variance, maxAbs: Math.max(...v.map(Math.abs)) };
};

describe('init', () => {
  it('fans follow PyTorch ([out, in, ...kernel])', () => {
    expect(init.calculateFanInAndFanOut([5, 3])).toEqual({ fanIn: 3, fanOut: 5 });
    expect(init.calculateFanInAndFanOut([8, 4, 3, 3])).toEqual({ fanIn: 36, fanOut: 72 });
    expect(() => init.calculateFanInAndFanOut([3])).toThrow(/rank ≥ 2/);
  });

  it('gains follow PyTorch', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(init.calculateGain('leakyRelu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain('selu')).toBe(0.75);
  });

  it('kaimingUniform: U(±gain·√(3/fanIn)); with a = √5 the bound is 1/√fanIn', () => {
    const t = init.kaimingUniform(zeros([200, 50]), { generator: new Generator(0), nonlinearity: 'relu' });
    const bound = Math.sqrt(2) * Math.sqrt(3 / 50);
    const s = stats(flat(t));
    expect(s.maxAbs).toBeLessThanOrEqual(bound);
    expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(s.variance).toBeCloseTo(bound ** 2 / 3, 3);
    const pt = init.kaimingUniform(zeros([300, 25]), { a: Math.sqrt(5), generator: new Generator(1) });
    expect(stats(flat(pt)).maxAbs).toBeLessThanOrEqual(1 / 5);
    expect(stats(flat(pt)).maxAbs).toBeGreaterThan(0.199);
  });

  it('kaimingNormal: N(0, gain²/fan), fanOut mode', () => {
    const t = init.kaimingNormal(zeros([100, 400]), { mode: 'fanOut', nonlinearity: 'relu', generator: new Generator(2) });
    const s = stats(flat(t));
    expect(Math.abs(s.mean)).toBeLessThan(0.005);
    expect(s.variance / (2 / 100)).toBeGreaterThan(0.97);
    expect(s.variance / (2 / 100)).toBeLessThan(1.03);
  });

  it('xavierUniform and xavierNormal', () => {
    const u = init.xavierUniform(zeros([60, 40]), { gain: 2, generator: new Generator(3) });
    const bound = 2 * Math.sqrt(6 / 100);
    expect(stats(flat(u)).maxAbs).toBeLessThanOrEqual(bound);
    expect(stats(flat(u)).maxAbs).toBeGreaterThan(0.99 * bound);
    const n = init.xavierNormal(zeros([200, 300]), { generator: new Generator(4) });
    expect(stats(flat(n)).variance / (2 / 500)).toBeGreaterThan(0.97);
    expect(stats(flat(n)).variance / (2 / 500)).toBeLessThan(1.03);
  });

  it('uniform, normal, constant, zeros, ones', () => {
    const u = flat(init.uniform(zeros([1000]), 2, 3, { generator: new Generator(5) }));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    const n = stats(flat(init.normal(zeros([20000]), 1, 0.5, { generator: new Generator(6) })));
    expect(n.mean).toBeCloseTo(1, 1);
    expect(Math.sqrt(n.variance)).toBeCloseTo(0.5, 1);
    expect(flat(init.constant(zeros([3]), 7))).toEqual([7, 7, 7]);
    expect(flat(init.ones(zeros([2])))).toEqual([1, 1]);
    expect(flat(init.zeros(init.ones(zeros([2]))))).toEqual([0, 0]);
  });

  it('writes in place: a parameter keeps its identity and requiresGrad', () => {
    const p = new Parameter(zeros([4, 4]));
    const same = init.xavierUniform(p, { generator: new Generator(7) });
    expect(same).toBe(p);
    expect(p.requiresGrad).toBe(true);
    expect(p.isLeaf).toBe(true);
    expect(flat(p).some((v) => v !== 0)).toBe(true);
  });

  it('is seeded: the same generator seed, or manualSeed, gives the same values', () => {
    const a = flat(init.kaimingNormal(zeros([5, 5]), { generator: new Generator(42) }));
    const b = flat(init.kaimingNormal(zeros([5, 5]), { generator: new Generator(42) }));
    expect(a).toEqual(b);
    manualSeed(11);
    const l1 = flat(new Linear(3, 3).weight);
    manualSeed(11);
    const l2 = flat(new Linear(3, 3).weight);
    expect(l1).toEqual(l2);
    expect(flat(new Linear(3, 3).weight)).not.toEqual(l1);
  });
});
