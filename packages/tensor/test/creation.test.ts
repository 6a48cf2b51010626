/**
 * Creation functions, readers (toArray, data, item, dtype) and seeded randomness.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Generator, ShapeError, arange, defaultGenerator, full, manualSeed, ones, rand, randint, randn, tensor, zeros, type NestedArray,
} from '../src/index.js';
import { shapeArb, size } from './helpers.js';

/** A nested array of `shape` holding 0, 1, 2, ... in row-major order. */
function nested(shape: readonly number[], start = 0): NestedArray {
  if (shape.length === 0) return start;
  const step = size(shape.slice(1));
  return Array.from({ length: shape[0]! }, (_, i) => nested(shape.slice(1), start + i * step));
}

const bits = (x: Float32Array | Int32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

describe('tensor()', () => {
  it('infers the shape of nested arrays and round-trips through toArray', () => {
    fc.assert(
      fc.property(shapeArb(0, 4, 3), (shape) => {
        const data = nested(shape);
        const t = tensor(data);
        expect(t.shape).toEqual(shape);
        expect(t.ndim).toBe(shape.length);
        expect(t.size).toBe(size(shape));
        expect(t.dtype).toBe('float32');
        expect(t.toArray()).toEqual(data);
        expect(Array.from(t.data())).toEqual(Array.from({ length: size(shape) }, (_, i) => i));
      }),
      { numRuns: 25 },
    );
  });

  it('scalars, empty arrays, dtype option, float32 rounding', () => {
    const s = tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    expect(s.toArray()).toBe(2.5);
    expect(tensor([]).shape).toEqual([0]);
    const i = tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    expect(i.dtype).toBe('int32');
    expect(i.data()).toBeInstanceOf(Int32Array);
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
    expect(tensor([1.9, -1.9], { dtype: 'int32' }).toArray()).toEqual([1, -1]);
    const reshaped = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] });
    expect(reshaped.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it('ragged nested arrays are a ShapeError', () => {
    for (const bad of [[[1, 2], [3]], [[1], 2], [1, [2]], [[[1, 2]], [[3]]]] as NestedArray[]) {
      let err: unknown;
      try {
        tensor(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(ShapeError);
      expect((err as Error).message).toContain('ragged');
    }
  });

  it('typed arrays: dtype from the array type, optional shape, data copied', () => {
    const f = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(f, { shape: [3, 2] });
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    f[0] = 100; // the tensor owns a copy
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);

    const i = tensor(new Int32Array([7, -8]));
    expect(i.dtype).toBe('int32');
    expect(i.shape).toEqual([2]);
    expect(i.toArray()).toEqual([7, -8]);

    const d = tensor(new Float64Array([0.1, 1e40]));
    expect(d.dtype).toBe('float32');
    expect(Array.from(d.data())).toEqual([Math.fround(0.1), Infinity]);

    expect(tensor(new Int32Array([1, 2]), { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => tensor(new Float32Array(4), { shape: [3] })).toThrow(ShapeError);
  });

  it('data() returns a copy; item() needs one element', () => {
    const t = tensor([1, 2, 3]);
    const d = t.data();
    d[0] = 42;
    expect(t.toArray()).toEqual([1, 2, 3]);
    expect(() => t.item()).toThrow(/3 elements/);
    expect(tensor([[7]]).item()).toBe(7);
  });
});

describe('constant and range constructors', () => {
  it('zeros, ones, full (shape, dtype, value, requiresGrad)', () => {
    expect(zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(ones([2], { dtype: 'int32' }).data()).toEqual(new Int32Array([1, 1]));
    const f = full([3], -1.5, { requiresGrad: true });
    expect(f.toArray()).toEqual([-1.5, -1.5, -1.5]);
    expect(f.requiresGrad).toBe(true);
    expect(zeros([]).shape).toEqual([]);
    expect(zeros([0, 4]).size).toBe(0);
  });

  it('arange: integer and fractional ranges, negative steps, dtypes', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 10 }), fc.integer({ min: -10, max: 10 }), fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0), (a, b, step) => {
        const t = arange(a, b, step);
        const expected: number[] = [];
        for (let v = a; step > 0 ? v < b : v > b; v += step) expected.push(v);
        expect(t.dtype).toBe('int32');
        expect(t.shape).toEqual([expected.length]);
        expect(t.toArray()).toEqual(expected);
      }),
      { numRuns: 50 },
    );
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    const f = arange(0, 1, 0.25);
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(3, undefined, 1, { dtype: 'float32' }).dtype).toBe('float32');
  });
});

describe('random tensors and generators', () => {
  it('manualSeed makes randn / rand / randint reproducible bit for bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), shapeArb(1, 3, 5), (seed, shape) => {
        manualSeed(seed);
        const a = [randn(shape), rand(shape), randint(-5, 5, shape)];
        manualSeed(seed);
        const b = [randn(shape), rand(shape), randint(-5, 5, shape)];
        a.forEach((t, i) => expect(bits(t.data())).toEqual(bits(b[i]!.data())));
      }),
      { numRuns: 20 },
    );
  });

  it('different seeds give different draws', () => {
    manualSeed(1);
    const a = randn([16]).data();
    manualSeed(2);
    const b = randn([16]).data();
    expect(bits(a)).not.toEqual(bits(b));
  });

  it('an explicit Generator is independent of the global one', () => {
    manualSeed(5);
    const reference = randn([20]).data();
    manualSeed(5);
    const g = new Generator(123);
    const first = randn([10], { generator: g }).data();
    const global = randn([20]).data(); // unaffected by the draws from g
    expect(bits(global)).toEqual(bits(reference));
    // …and g does not depend on the global seed.
    manualSeed(999);
    randn([7]);
    expect(bits(randn([10], { generator: new Generator(123) }).data())).toEqual(bits(first));
    expect(defaultGenerator()).not.toBe(g);
  });

  it('Generator state can be saved and restored', () => {
    const g = new Generator(77);
    g.normal(); // leaves a spare normal in the state
    const state = g.getState();
    const next = [g.normal(), g.normal(), g.random()];
    g.setState(state);
    expect([g.normal(), g.normal(), g.random()]).toEqual(next);
  });

  it('randn of 10k samples has mean ≈ 0 and std ≈ 1', () => {
    manualSeed(2024);
    const v = Array.from(randn([100, 100]).data());
    const n = v.length;
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(std - 1)).toBeLessThan(0.05);
    // Roughly 68% within one standard deviation.
    const within = v.filter((x) => Math.abs(x) < 1).length / n;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.03);
  });

  it('rand is uniform on [0, 1) and randint on [low, high)', () => {
    manualSeed(3);
    const u = Array.from(rand([10000]).data());
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(u.reduce((a, b) => a + b, 0) / u.length - 0.5)).toBeLessThan(0.02);
    const r = randint(-2, 3, [5000]);
    expect(r.dtype).toBe('int32');
    const counts = new Map<number, number>();
    for (const x of r.data()) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(() => randint(3, 3, [1])).toThrow(ShapeError);
  });

  it('random tensors have the requested shape and dtype', () => {
    expect(randn([2, 3]).shape).toEqual([2, 3]);
    expect(randn([2]).dtype).toBe('float32');
    expect(rand([4, 1]).shape).toEqual([4, 1]);
    expect(randn([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(randint(0, 10, [3]).shape).toEqual([3]);
  });
});
