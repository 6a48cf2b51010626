/**
 * Fuzzing the op boundary: thousands of seeded random calls with adversarial arguments — shapes
 * with negative, fractional, NaN or huge sizes, axes out of range, 0-d and empty tensors, int32
 * where float32 is wanted, and values of the wrong JavaScript type (null, strings, objects).
 * Every call must end in one of two ways:
 *   - a result whose shape is a list of non-negative integers matching its data, or
 *   - a typed error of the engine (a TensorError: ShapeError, DTypeError, IndexError, ...).
 * A TypeError or RangeError from deep inside, a silently wrong shape, a hang or an abort fails.
 * Sizes stay small or far beyond the element limit, so no call can legitimately allocate much.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { Generator, TensorError, type Tensor } from '../src/index.js';

const JUNK: unknown[] = [null, undefined, 'a', '2', {}, [], NaN, Infinity, -Infinity, 1.5, -1, -3, 0, 1e12, 2 ** 40, true, [1.5], [NaN], [-1, -1], [2, -2], [1e12, 1e12]];
const INTS = [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5];
const SHAPES: unknown[] = [[], [0], [1], [2], [3], [2, 3], [3, 2], [1, 6], [6], [2, 1, 3], [0, 3], [-1], [-1, 2], [2, -1], [6, -1], [3, 0.5], [NaN], [1e12], [1e6, 1e6], [2, 2, 2, 2]];

function tensors(): Tensor[] {
  const g = new Generator(3);
  return [
    T.tensor(4.5),
    T.tensor([1, -2, 3]),
    T.randn([2, 3], { generator: g }),
    T.randn([3, 2], { generator: g }),
    T.randn([2, 1, 3], { generator: g }),
    T.zeros([0, 3]),
    T.zeros([2, 0]),
    T.arange(6).reshape([2, 3]), // int32
    T.tensor(Int32Array.from([0, 2, 1]), { shape: [3] }),
    T.randn([1, 2, 4, 4], { generator: g }),
    T.randn([2, 2, 3, 3], { generator: g }),
    T.tensor([NaN, Infinity, -Infinity, 0]),
  ];
}

type Call = (pick: <V>(xs: readonly V[]) => V, any: () => unknown, t: () => Tensor) => unknown;

/** Each entry calls one op with arguments drawn from the pools (valid ones, and junk). */
const CALLS: Record<string, Call> = {
  tensorShape: (p, any) => T.tensor(new Float32Array(6), { shape: p([...SHAPES, any()]) as number[] }),
  tensorNested: (p, any) => T.tensor(p([[[1, 2], [3]], [[1, 'a']], [1, null], [[[]]], any()]) as number[]),
  zeros: (p, any) => T.zeros(p([...SHAPES, any()]) as number[]),
  full: (p, any) => T.full(p(SHAPES) as number[], p([1, NaN, any()]) as number),
  arange: (p, any) => T.arange(p([...INTS, 10, 1e12, any()]) as number, p([undefined, ...INTS, 1e12, any()]) as number, p([1, -1, 0.5, 1e-12, 0, -1e-12, NaN, any()]) as number),
  randn: (p, any) => T.randn(p([...SHAPES, any()]) as number[]),
  randint: (p, any) => T.randint(p([0, -2, NaN, any()]) as number, p([3, 0, 1e12, any()]) as number, p(SHAPES) as number[]),
  unary: (p, _a, t) => (t() as unknown as Record<string, () => Tensor>)[p(['neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'gelu', 'square', 'floor', 'sign', 'reciprocal', 'softmax', 'logSoftmax'])]!(),
  binary: (p, any, t) => (t() as unknown as Record<string, (o: unknown) => Tensor>)[p(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'lt'])]!(p([t(), t(), 2, any()])),
  where: (p, any, t) => T.where(p([t(), any()]) as Tensor, p([t(), 1, any()]) as Tensor, p([t(), 0, any()]) as Tensor),
  clamp: (p, any, t) => t().clamp(p([-1, undefined, NaN, any()]) as number, p([1, undefined, any()]) as number),
  reduce: (p, any, t) => (t() as unknown as Record<string, (a: unknown, k: unknown) => Tensor>)[p(['sum', 'mean', 'max', 'min', 'logsumexp', 'argmax', 'argmin'])]!(p([undefined, ...INTS, [0, 0], [0, 1], any()]), p([true, false, any()])),
  variance: (p, any, t) => t().var(p([undefined, ...INTS, any()]) as number, { correction: p([0, 1, 5, any()]) as number }),
  axisOps: (p, any, t) => (t() as unknown as Record<string, (a: unknown) => Tensor>)[p(['softmax', 'logSoftmax', 'squeeze', 'unsqueeze', 'argmax', 'cumsumLike'].filter((n) => n !== 'cumsumLike'))]!(p([...INTS, any()])),
  reshape: (p, any, t) => t().reshape(p([...SHAPES, any()]) as number[]),
  permute: (p, any, t) => t().permute(p([[1, 0], [0], [], [2, 1, 0], [0, 0], [0, 5], [1.5, 0], any()]) as number[]),
  transpose: (p, any, t) => t().transpose(p([...INTS, any()]) as number, p([...INTS, any()]) as number),
  expand: (p, any, t) => t().expand(p([...SHAPES, [-1, -1], [4, -1, 3], [2, 2, 3], any()]) as number[]),
  broadcastTo: (p, any, t) => t().broadcastTo(p([...SHAPES, any()]) as number[]),
  flatten: (p, any, t) => t().flatten(p([...INTS, any()]) as number, p([...INTS, any()]) as number),
  slice: (p, any, t) => t().slice(p([...INTS, any()]) as number, p([undefined, ...INTS, any()]) as number, p([undefined, ...INTS, 1e12, any()]) as number, p([1, 2, -1, 0, 1.5, any()]) as number),
  pad: (p, any, t) => t().pad(p([[1, 1], [0, 0, 1, 2], [-1, 0], [1], [1.5, 0], [NaN, 1], [1e12, 0], [1, 1, 1, 1, 1, 1, 1, 1], any()]) as number[], p([0, NaN, any()]) as number),
  cat: (p, any, t) => T.cat(p([[t(), t()], [t()], [], [t(), any()], any()]) as Tensor[], p([...INTS, any()]) as number),
  stack: (p, any, t) => T.stack(p([[t(), t()], [t()], [], any()]) as Tensor[], p([...INTS, any()]) as number),
  gather: (p, any, t) => t().gather(p([...INTS, any()]) as number, p([t(), any()]) as Tensor),
  indexSelect: (p, any, t) => t().indexSelect(p([...INTS, any()]) as number, p([t(), any()]) as Tensor),
  scatterAdd: (p, any, t) => t().scatterAdd(p([...INTS, any()]) as number, p([t(), any()]) as Tensor, p([t(), any()]) as Tensor),
  indexAdd: (p, any, t) => t().indexAdd(p([...INTS, any()]) as number, p([t(), any()]) as Tensor, p([t(), any()]) as Tensor),
  topk: (p, any, t) => t().topk(p([...INTS, 1e12, any()]) as number, p([...INTS, any()]) as number, p([true, false, any()]) as boolean).values,
  oneHot: (p, any, t) => t().oneHot(p([...INTS, 1e12, any()]) as number),
  matmul: (p, any, t) => t().matmul(p([t(), t(), any()]) as Tensor),
  conv2d: (p, any, t) => T.conv2d(t(), t(), p([null, t(), any()]) as Tensor, { stride: p([1, 2, 0, -1, 1.5, any()]) as number, padding: p([0, 1, -1, 100, any()]) as number }),
  convTranspose2d: (p, any, t) => T.convTranspose2d(t(), t(), null, { stride: p([1, 2, 0, any()]) as number, padding: p([0, 1, 5, -1, any()]) as number, outputPadding: p([0, 1, 3, any()]) as number }),
  item: (_p, _a, t) => t().item(),
};

/** A description of the arguments for a failure message. */
const show = (v: unknown): string => {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof T.Tensor ? `Tensor[${x.shape.join(',')}]` : typeof x === 'function' ? 'fn' : x === undefined ? 'undefined' : x)) ?? String(v);
  } catch {
    return String(v);
  }
};

function checkResult(name: string, r: unknown): void {
  if (!(r instanceof T.Tensor)) return; // item() and friends return numbers
  const shape = r.shape;
  expect(Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0), `${name}: result shape [${shape}]`).toBe(true);
  expect(r.data().length, `${name}: data length against shape [${shape}]`).toBe(shape.reduce((a, b) => a * b, 1));
}

describe('fuzz: adversarial calls end in a valid result or a typed error', () => {
  it('5,000 seeded calls', () => {
    const pool = tensors();
    const gen = new Generator(20261201);
    const pick = <V,>(xs: readonly V[]): V => xs[gen.randint(0, xs.length)]!;
    const names = Object.keys(CALLS);
    const outcomes = { ok: 0, typed: 0 };
    const typedByClass: Record<string, number> = {};
    const failures = new Map<string, string>(); // first failure per op and kind
    for (let i = 0; i < 5000; i++) {
      const name = names[i % names.length]!;
      const args: unknown[] = [];
      const recorder = <V,>(xs: readonly V[]): V => {
        const v = pick(xs);
        args.push(v);
        return v;
      };
      let result: unknown;
      try {
        result = CALLS[name]!(recorder, () => recorder(JUNK), () => recorder(pool));
      } catch (e) {
        if (e instanceof TensorError) {
          outcomes.typed++;
          typedByClass[e.name] = (typedByClass[e.name] ?? 0) + 1;
          continue;
        }
        const key = `${name}: ${(e as Error).name} ${(e as Error).message.slice(0, 60)}`;
        if (!failures.has(key)) failures.set(key, `call ${i} ${name}(${args.map(show).join(', ')}) threw an untyped ${(e as Error).name}: ${(e as Error).message}`);
        continue;
      }
      try {
        checkResult(`call ${i} ${name}(${args.map(show).join(', ')})`, result);
      } catch (e) {
        if (!failures.has(`${name}: result`)) failures.set(`${name}: result`, (e as Error).message);
        continue;
      }
      outcomes.ok++;
    }
    if (process.env.FUZZ_REPORT) console.log(`fuzz: ${outcomes.ok} valid results, ${outcomes.typed} typed errors ${JSON.stringify(typedByClass)}, ${failures.size} failures`);
    expect([...failures.values()].join('\n')).toBe('');
    // Both outcomes happen: the pools are neither all valid nor all junk.
    expect(outcomes.ok).toBeGreaterThan(500);
    expect(outcomes.typed).toBeGreaterThan(500);
  });
});
