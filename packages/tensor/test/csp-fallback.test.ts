/**
 * The CPU backend without code generation, as on a page whose Content-Security-Policy has no
 * 'unsafe-eval' (new Function throws an EvalError): its elementwise loops run interpreted, and
 * every elementwise primitive — each unary and binary op in float32, float64 and int32 with
 * broadcasting, where, permute, broadcastTo, slice, sliceScatter — and a few training steps give
 * the same bits as the compiled loops. (test/browser-csp in @simplex-vq/backend-gpujs runs a
 * training step under a real CSP in Chromium.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  BINARY_OPS,
  CpuBackend,
  Generator,
  INT32_OPS,
  SPECIAL_VALUES,
  UNARY_OPS,
  WHERE_OP,
  cpuKernelMode,
  noGrad,
  randn,
  withBackend,
  type BinaryOp,
  type DType,
  type HostArray,
  type UnaryOp,
} from '../src/index.js';
import { isCompiled, setFunctionMaker, type ScalarFn } from '../src/cpu/strided-kernel.js';

const INT32_UNARY: UnaryOp[] = ['neg', 'abs', 'sign', 'square', 'floor', 'isFinite'];
const INT32_BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Every elementwise primitive on special and random values; each output labelled. */
function elementwiseSuite(): Array<[string, HostArray]> {
  const out: Array<[string, HostArray]> = [];
  const g = new Generator(5);
  const randoms = Array.from({ length: 24 }, () => g.normal() * 3);
  const floats = [...SPECIAL_VALUES, ...randoms];
  const ints = [0, 1, -1, 7, -(2 ** 31), 2 ** 31 - 1, 65536, 46341, ...randoms.map((v) => Math.round(v * 1000))];
  const setups: Array<[string, CpuBackend, DType, number[]]> = [
    ['float32', new CpuBackend({ threads: 1 }), 'float32', floats],
    ['float64', new CpuBackend({ precision: 'float64', threads: 1 }), 'float32', floats],
    ['int32', new CpuBackend({ threads: 1 }), 'int32', ints],
  ];
  for (const [name, b, dtype, vs] of setups) {
    const n = vs.length;
    const x = b.fromArray(vs, dtype);
    for (const op of dtype === 'int32' ? INT32_UNARY : (Object.keys(UNARY_OPS) as UnaryOp[])) {
      out.push([`${name} ${op}`, b.read(b.unary(op, x, n, dtype), n, op === 'isFinite' ? 'int32' : dtype)]);
    }
    // Every pair of values (a: each value repeated n times; c: the values tiled), and a broadcast.
    const a = b.fromArray(vs.flatMap((v) => vs.map(() => v)), dtype), c = b.fromArray(vs.flatMap(() => vs), dtype);
    const col = b.fromArray(vs.slice(0, 3), dtype);
    for (const op of dtype === 'int32' ? INT32_BINARY : (Object.keys(BINARY_OPS) as BinaryOp[])) {
      const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
      out.push([`${name} ${op}`, b.read(b.binary(op, a, [n * n], c, [n * n], [n * n], dtype), n * n, cmp ? 'int32' : dtype)]);
      out.push([`${name} ${op} broadcast`, b.read(b.binary(op, col, [3, 1], x, [n], [3, n], dtype), 3 * n, cmp ? 'int32' : dtype)]);
    }
    const cond = b.fromArray(vs.map((_, i) => i % 3 === 0 ? 1 : 0), 'int32');
    out.push([`${name} where`, b.read(b.where(cond, [n], x, [n], col, [3, 1], [3, n], dtype), 3 * n, dtype)]);
    const m = b.fromArray(Array.from({ length: 60 }, (_, i) => vs[i % n]!), dtype);
    out.push([`${name} permute`, b.read(b.permute(m, [3, 4, 5], [2, 0, 1], dtype), 60, dtype)]);
    out.push([`${name} broadcastTo`, b.read(b.broadcastTo(col, [3, 1], [2, 3, 4], dtype), 24, dtype)]);
    out.push([`${name} slice`, b.read(b.slice(m, [3, 4, 5], [1, 0, 1], [1, 2, 2], [2, 2, 2], dtype), 8, dtype)]);
    out.push([`${name} sliceScatter`, b.read(b.sliceScatter(col, [3], [1], [2], [8], 7, dtype), 8, dtype)]);
    // 0-d operands, and an empty one.
    const s1 = b.fromArray([vs[1]!], dtype), s2 = b.fromArray([vs[5]!], dtype);
    out.push([`${name} 0-d sub`, b.read(b.binary('sub', s1, [], s2, [], [], dtype), 1, dtype)]);
    out.push([`${name} 0-d where`, b.read(b.where(b.fromArray([0], 'int32'), [], s1, [], s2, [], [], dtype), 1, dtype)]);
    out.push([`${name} empty add`, b.read(b.binary('add', b.fromArray([], dtype), [2, 0], col, [3, 1, 1], [3, 2, 0], dtype), 0, dtype)]);
  }
  return out;
}

/** A few SGD steps of a small MLP: the losses and final weights. */
function trainingSteps(): HostArray[] {
  return withBackend(new CpuBackend({ threads: 1 }), () => {
    const g = new Generator(11);
    const x = randn([16, 5], { generator: g });
    const y = randn([16, 1], { generator: g }).tanh();
    const w1 = randn([5, 8], { generator: g }).mul(0.5).requiresGrad_();
    const w2 = randn([8, 1], { generator: g }).mul(0.5).requiresGrad_();
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      w1.grad = null;
      w2.grad = null;
      const h = x.matmul(w1).gelu().maximum(x.matmul(w1).relu().mul(0.5));
      const loss = h.matmul(w2).sigmoid().sub(y.add(1).div(2)).square().mean();
      loss.backward();
      noGrad(() => {
        w1.assign(w1.sub(w1.grad!.mul(0.5)));
        w2.assign(w2.sub(w2.grad!.mul(0.5)));
      });
      losses.push(loss.item());
    }
    return [Float64Array.from(losses), w1.data(), w2.data()];
  });
}

const bytes = (a: HostArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('elementwise loops without new Function (a strict CSP)', () => {
  afterAll(() => setFunctionMaker());

  it('compiles every op where new Function works', () => {
    setFunctionMaker();
    const fns = [...Object.values(UNARY_OPS), ...Object.values(BINARY_OPS), ...Object.values(INT32_OPS), WHERE_OP] as ScalarFn[];
    for (const fn of fns) expect(isCompiled(fn), fn.toString()).toBe(true);
    expect(cpuKernelMode()).toBe('compiled');
  });

  it('falls back to interpreted loops, found out once, with the same bits', () => {
    setFunctionMaker();
    const compiled = elementwiseSuite();
    const training = trainingSteps();
    expect(cpuKernelMode()).toBe('compiled');

    let attempts = 0;
    setFunctionMaker(() => {
      attempts++;
      throw new EvalError("Refused to evaluate a string as JavaScript because 'unsafe-eval' is not an allowed source of script");
    });
    expect(cpuKernelMode()).toBe('untried');
    const interpreted = elementwiseSuite();
    const trainingInterpreted = trainingSteps();
    expect(cpuKernelMode()).toBe('interpreted');
    expect(attempts).toBe(1);

    expect(interpreted.map(([name]) => name)).toEqual(compiled.map(([name]) => name));
    expect(compiled.length).toBeGreaterThan(90);
    compiled.forEach(([name, want], i) => expect(bytes(interpreted[i]![1]), name).toEqual(bytes(want)));
    training.forEach((want, i) => expect(bytes(trainingInterpreted[i]!)).toEqual(bytes(want)));
    expect(training[0]![4]!).toBeLessThan(training[0]![0]!); // it trained
  });

  it("takes the interpreted loop for a function whose source cannot be compiled on its own", () => {
    setFunctionMaker();
    const scale = 3; // a free variable: what a bundler's renaming would leave in a function's source
    const f = (x: number) => x * scale;
    const block = (x: number) => {
      return x + 1;
    };
    expect(isCompiled(f)).toBe(false);
    expect(isCompiled(block)).toBe(false);
    expect(isCompiled(UNARY_OPS.relu as ScalarFn)).toBe(true);
  });
});
