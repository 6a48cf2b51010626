/**
 * The CPU backend's matmul primitive, called directly on Float32Arrays: the blocked, packed
 * kernel (single thread) and the threaded path both equal a naive triple-loop reference for
 * every transA/transB combination, odd sizes that leave edge tiles (1, 3, 5, 67, 130), and
 * k > 256 (more than one KC block); threaded results are bit-identical to single-threaded ones,
 * and the WebAssembly SIMD kernel's to the JavaScript kernel's. Also (AB)ᵀ = BᵀAᵀ through the
 * public matmul.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend, Generator, matmul, type MatmulSpec } from '../src/index.js';
import { T, expectClose, specOf, dimArb } from './helpers.js';
import { gemmRows } from '../src/cpu/gemm.js';
import { createGemmSimdKernel, gemmSimdModule } from '../src/cpu/gemm-simd.js';

const single = new CpuBackend({ threads: 1 });
const threaded = new CpuBackend({ threads: 2, parallelThreshold: 0 });
/** The JavaScript kernel only (the two above use the SIMD kernel where WebAssembly has it). */
const plainJs = new CpuBackend({ threads: 1, simd: false });
const plainJsThreaded = new CpuBackend({ threads: 2, parallelThreshold: 0, simd: false });

function randomArray(n: number, gen: Generator): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = gen.normal();
  return v;
}

/**
 * The reference: C[q] = op(A[q])·op(B[q]) by the definition, in float64. Also returns
 * Σ_p |op(A)_ip·op(B)_pj| per element, the scale of the rounding error.
 */
function naiveMatmul(a: Float32Array, b: Float32Array, s: MatmulSpec): { c: Float64Array; scale: Float64Array } {
  const c = new Float64Array(s.batch * s.m * s.n);
  const scale = new Float64Array(c.length);
  for (let q = 0; q < s.batch; q++) {
    const aBase = q * s.aBatchStride, bBase = q * s.bBatchStride;
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let acc = 0, abs = 0;
        for (let p = 0; p < s.k; p++) {
          const av = s.transA ? a[aBase + p * s.m + i]! : a[aBase + i * s.k + p]!;
          const bv = s.transB ? b[bBase + j * s.k + p]! : b[bBase + p * s.n + j]!;
          acc += av * bv;
          abs += Math.abs(av * bv);
        }
        c[(q * s.m + i) * s.n + j] = acc;
        scale[(q * s.m + i) * s.n + j] = abs;
      }
    }
  }
  return { c, scale };
}

/** Checks against the reference: float64 accumulation per KC block, rounded to float32 per block. */
function expectMatchesNaive(got: Float32Array, a: Float32Array, b: Float32Array, s: MatmulSpec, what: string): void {
  const { c, scale } = naiveMatmul(a, b, s);
  expect(got.length, what).toBe(c.length);
  const blocks = Math.ceil(s.k / 256) + 1;
  for (let i = 0; i < c.length; i++) {
    const tol = 4 * blocks * 2 ** -24 * scale[i]! + 1e-30;
    if (!(Math.abs(got[i]! - c[i]!) <= tol)) {
      expect.fail(`${what}: element ${i} is ${got[i]}, reference ${c[i]} (tolerance ${tol})`);
    }
  }
}

function run(backend: CpuBackend, a: Float32Array, b: Float32Array, spec: MatmulSpec): Float32Array {
  const out = backend.matmul(a, b, spec);
  expect(out).toBeInstanceOf(Float32Array);
  return out as Float32Array;
}

/**
 * Runs a product and says whether it went through the thread pool (the backend counts pooled
 * products). Used to make sure the threaded comparisons below really exercise the pool (small
 * products run on the calling thread even on a threaded backend).
 */
function runCounted(backend: CpuBackend, a: Float32Array, b: Float32Array, spec: MatmulSpec): { out: Float32Array; pooled: boolean } {
  const before = backend.pooledProducts;
  const out = run(backend, a, b, spec);
  return { out, pooled: backend.pooledProducts > before };
}

function expectBitIdentical(x: Float32Array, y: Float32Array, what: string): void {
  expect(x.length, what).toBe(y.length);
  const bx = new Uint32Array(x.buffer, x.byteOffset, x.length), by = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < bx.length; i++) {
    if (bx[i] !== by[i]) expect.fail(`${what}: element ${i} differs: ${x[i]} vs ${y[i]}`);
  }
}

const SIZES = [1, 3, 5, 67, 130];
const K_SIZES = [1, 3, 5, 67, 130, 257, 300, 600];

describe('CpuBackend.matmul against a naive triple loop', () => {
  it('the pool is really used by the threaded backend', () => {
    // Otherwise the threaded comparisons below would silently compare the single-threaded path.
    expect(threaded.threadCount).toBe(2);
    expect(single.threadCount).toBe(1);
  });

  it('every transA/transB combination on fixed edge-tile and k-blocking sizes', () => {
    const gen = new Generator(7);
    const cases: Array<[number, number, number]> = [
      [1, 1, 1], [3, 5, 1], [5, 3, 67], [67, 300, 5], [130, 67, 3], [1, 300, 130], [5, 600, 67], [67, 257, 130], [130, 5, 130], [3, 300, 5],
    ];
    let pooled = 0;
    for (const [m, k, n] of cases) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const spec: MatmulSpec = { batch: 1, m, k, n, aBatchStride: 0, bBatchStride: 0, transA, transB };
          const a = randomArray(m * k, gen), b = randomArray(k * n, gen);
          const what = `m=${m} k=${k} n=${n} transA=${transA} transB=${transB}`;
          const r1 = runCounted(single, a, b, spec);
          const c1 = r1.out;
          expectMatchesNaive(c1, a, b, spec, `single ${what}`);
          const r2 = runCounted(threaded, a, b, spec);
          const c2 = r2.out;
          if (r2.pooled) pooled++;
          expect(r1.pooled, `single-threaded backend used a pool: ${what}`).toBe(false);
          expectMatchesNaive(c2, a, b, spec, `threaded ${what}`);
          expectBitIdentical(c2, c1, `threaded vs single ${what}`);
        }
      }
    }
    // Both row splits (m ≥ n) and column splits (short, wide outputs) of the cases above are large
    // enough for the pool; if none went through it, the threaded comparisons tested nothing.
    expect(pooled).toBeGreaterThanOrEqual(4 * 6);
  });

  it('generated sizes, transposes and batches (shared operands with batch stride 0)', () => {
    const arb = fc.record({
      m: fc.constantFrom(...SIZES),
      k: fc.constantFrom(...K_SIZES),
      n: fc.constantFrom(...SIZES),
      batch: fc.integer({ min: 1, max: 3 }),
      transA: fc.boolean(),
      transB: fc.boolean(),
      shareA: fc.boolean(),
      shareB: fc.boolean(),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(arb, ({ m, k, n, batch, transA, transB, shareA, shareB, seed }) => {
        // Keep each case cheap: the reference is O(batch·m·k·n).
        fc.pre(batch * m * k * n <= 3_000_000);
        const gen = new Generator(seed);
        const spec: MatmulSpec = {
          batch, m, k, n, transA, transB,
          aBatchStride: shareA ? 0 : m * k,
          bBatchStride: shareB ? 0 : k * n,
        };
        const a = randomArray((shareA ? 1 : batch) * m * k, gen), b = randomArray((shareB ? 1 : batch) * k * n, gen);
        const what = JSON.stringify(spec);
        const c1 = run(single, a, b, spec);
        expectMatchesNaive(c1, a, b, spec, `single ${what}`);
        const c2 = run(threaded, a, b, spec);
        expectMatchesNaive(c2, a, b, spec, `threaded ${what}`);
        expectBitIdentical(c2, c1, `threaded vs single ${what}`);
      }),
      { numRuns: 25 },
    );
  });

  it('the SIMD kernel (one thread and pool) gives the JavaScript kernel\'s results bit for bit', () => {
    expect(single.simd, 'WebAssembly SIMD is available in Node 20').toBe(true);
    expect(plainJs.simd).toBe(false);
    const gen = new Generator(11);
    // Edge tiles, k over several KC blocks, n over several NC column blocks, both transposes.
    const cases: Array<[number, number, number]> = [[1, 1, 1], [5, 3, 7], [67, 600, 130], [130, 257, 67], [32, 512, 784], [9, 40, 4100], [3, 1, 2049]];
    for (const [m, k, n] of cases) {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const batch = m * k * n > 100_000 ? 1 : 2;
        const spec: MatmulSpec = { batch, m, k, n, aBatchStride: m * k, bBatchStride: 0, transA, transB };
        const a = randomArray(batch * m * k, gen), b = randomArray(k * n, gen);
        // An infinity gives ±Inf and NaN (Inf − Inf) sums in both kernels alike.
        if (a.length > 2) a[2] = Number.POSITIVE_INFINITY;
        const what = `m=${m} k=${k} n=${n} transA=${transA} transB=${transB}`;
        const ref = run(plainJs, a, b, spec);
        expectBitIdentical(run(single, a, b, spec), ref, `simd vs js ${what}`);
        expectBitIdentical(run(threaded, a, b, spec), ref, `simd pool vs js ${what}`);
        expectBitIdentical(run(plainJsThreaded, a, b, spec), ref, `js pool vs js ${what}`);
      }
    }
    const f64 = new CpuBackend({ precision: 'float64', threads: 1 }), f64Js = new CpuBackend({ precision: 'float64', threads: 1, simd: false });
    const a = Float64Array.from({ length: 67 * 300 }, () => gen.normal()), b = Float64Array.from({ length: 300 * 5 }, () => gen.normal());
    const spec: MatmulSpec = { batch: 1, m: 67, k: 300, n: 5, aBatchStride: 0, bBatchStride: 0, transA: false, transB: false };
    const x = f64.matmul(a, b, spec) as Float64Array, y = f64Js.matmul(a, b, spec) as Float64Array;
    expect(x.every((v, i) => Object.is(v, y[i])), 'float64: simd vs js').toBe(true);
  });

  it('the SIMD kernel built for blocks of 6 or 8 rows gives the bits of the 4-row one', () => {
    // The height of a block only changes which products share registers, not the order of any
    // element's sums: the bits must not depend on it (MR is chosen by speed alone).
    const gen = new Generator(12);
    const kernels = [4, 6, 8].map((mr) => createGemmSimdKernel(gemmSimdModule(mr))!);
    expect(kernels.every((k) => k !== null)).toBe(true);
    for (const [m, k, n] of [[13, 300, 17], [130, 33, 70], [7, 520, 9]] as const) {
      const a = randomArray(m * k, gen), b = randomArray(k * n, gen);
      const outs = kernels.map((kernel) => {
        const c = new Float32Array(m * n);
        gemmRows(m, n, k, a, 0, k, 1, b, 0, n, 1, c, 0, n, 0, m, kernel);
        return c;
      });
      for (const c of outs.slice(1)) expect(c.every((v, i) => Object.is(v, outs[0]![i])), `m=${m} k=${k} n=${n}`).toBe(true);
    }
  });

  it('zero-sized products give zeros of the right length', () => {
    for (const backend of [single, threaded]) {
      const spec: MatmulSpec = { batch: 2, m: 3, k: 0, n: 2, aBatchStride: 0, bBatchStride: 0, transA: false, transB: false };
      const out = run(backend, new Float32Array(0), new Float32Array(0), spec);
      expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
  });

  it('a float64 backend computes in float64', () => {
    const b64 = new CpuBackend({ precision: 'float64', threads: 1 });
    const a = Float64Array.from([1 + 2 ** -40, 1]), b = Float64Array.from([1, -1]);
    const out = b64.matmul(a, b, { batch: 1, m: 1, k: 2, n: 1, aBatchStride: 0, bBatchStride: 0, transA: false, transB: false }) as Float64Array;
    expect(out).toBeInstanceOf(Float64Array);
    expect(out[0]).toBe(2 ** -40);
  });
});

describe('matmul algebra', () => {
  it('(AB)ᵀ = BᵀAᵀ, 2-D and batched', () => {
    const arb = fc
      .tuple(fc.integer({ min: 0, max: 2 }), dimArb(5), dimArb(5), dimArb(5))
      .chain(([batch, m, k, n]) => {
        const lead = batch === 0 ? [] : [batch];
        return fc.tuple(specOf([...lead, m, k]), specOf([...lead, k, n]));
      });
    fc.assert(
      fc.property(arb, ([sa, sb]) => {
        const a = T(sa), b = T(sb);
        const lhs = matmul(a, b).mT;
        const rhs = matmul(b.mT, a.mT);
        expect(lhs.shape).toEqual(rhs.shape);
        expectClose(lhs.data(), rhs.data(), 1e-5, 1e-5, '(AB)ᵀ vs BᵀAᵀ');
      }),
      { numRuns: 25 },
    );
  });

  it('matmul of 1-D operands follows torch.matmul shapes and values', () => {
    const v = T({ shape: [3], values: [1, 2, 3] });
    const m = T({ shape: [2, 3], values: [1, 0, -1, 2, 1, 0] });
    const vv = matmul(v, v);
    expect(vv.shape).toEqual([]);
    expect(vv.item()).toBe(14);
    expect(matmul(m, v).toArray()).toEqual([-2, 4]);
    expect(matmul(T({ shape: [2], values: [1, -1] }), m).toArray()).toEqual([-1, -1, -1]);
    const batched = matmul(T({ shape: [2, 1, 3], values: [1, 1, 1, 0, 1, 0] }), v);
    expect(batched.shape).toEqual([2, 1]);
    expect(batched.toArray()).toEqual([[6], [2]]);
  });
});
