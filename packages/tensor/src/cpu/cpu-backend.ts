/**
 * The CPU backend: every primitive of the Backend interface over plain typed arrays.
 *
 * Handles are the typed arrays themselves (Float32Array for float32, Int32Array for int32), so
 * CPU tensors are ordinary garbage-collected memory: nothing needs disposing (backward() hands
 * back the gradients it is done with, for reuse: see "storage reuse" below). A float64 instance
 * (`new CpuBackend({ precision: 'float64' })`) stores float tensors in Float64Array; gradCheck
 * uses it to take finite differences without float32 rounding.
 */
import type { Backend, BinaryOp, ConvGeometry, DType, DataHandle, HostArray, MatmulSpec, ReduceOp, UnaryOp } from '../backend.js';
import { FLOAT32_OPS, INT32_RESULT, RANKS_BEFORE, WHERE_OP, binaryFn, expf32, unaryFn } from '../elementwise.js';
import { BackendError, IndexError } from '../errors.js';
import { broadcastStrides, collapseDims, sizeOf, stridesOf, type Shape } from '../shape.js';
import { gemmRows } from './gemm.js';
import { GEMM_SIMD_WASM, createGemmSimdKernel, type GemmSimdKernel } from './gemm-simd.js';
import { copyRuns, stridedKernel } from './strided-kernel.js';
import { ThreadPool } from './thread-pool.js';

type Arr = Float32Array | Float64Array | Int32Array;
type FArr = Float32Array | Float64Array;

const poolKey = (size: number, dtype: DType) => `${dtype === 'int32' ? 'i' : 'f'}${size}`;

/** The loop of the movement primitives: a strided copy. */
const copy = (x: number) => x;

export interface CpuBackendOptions {
  /** Storage of float tensors: 'float32' (default) or 'float64' (for gradient checks). */
  precision?: 'float32' | 'float64';
  /** Threads for large matmuls: a number, or 'auto' (the available cores; the default). 1 disables the pool. */
  threads?: number | 'auto';
  /** Products with at least this many multiply-adds use the pool (default 2^20). */
  parallelThreshold?: number;
  /**
   * Run matmul's inner loop in the WebAssembly SIMD kernel where it is available (default true).
   * Results are bit-identical either way; false keeps everything in JavaScript.
   */
  simd?: boolean;
  /**
   * Bytes of disposed storage kept for reuse (default 64 MiB; 0 turns reuse off). backward() hands
   * back the gradients it no longer needs (see `trackAllocations`); a later tensor of the same
   * length and dtype gets their storage, zeroed, instead of a fresh array.
   */
  bufferPoolBytes?: number;
}

export class CpuBackend implements Backend {
  readonly name: string;
  readonly precision: 'float32' | 'float64';
  private readonly F: typeof Float32Array | typeof Float64Array;
  private pool: ThreadPool | null | undefined;
  private readonly threads: number | 'auto';
  private readonly parallelThreshold: number;
  private readonly useSimd: boolean;
  private simdKernel: GemmSimdKernel | null | undefined;

  constructor(opts: CpuBackendOptions = {}) {
    this.precision = opts.precision ?? 'float32';
    this.name = this.precision === 'float64' ? 'cpu64' : 'cpu';
    this.F = this.precision === 'float64' ? Float64Array : Float32Array;
    this.threads = opts.threads ?? 'auto';
    this.parallelThreshold = opts.parallelThreshold ?? 1 << 20;
    this.useSimd = opts.simd ?? true;
    this.poolLimit = opts.bufferPoolBytes ?? 64 * 2 ** 20;
    if (!(this.poolLimit >= 0)) throw new BackendError('cpu', `bufferPoolBytes must be a number of bytes ≥ 0, got ${String(opts.bufferPoolBytes)}`);
  }

  /** Whether matmul runs its inner loop in the WebAssembly SIMD kernel. */
  get simd(): boolean {
    return this.getSimdKernel() !== null;
  }

  private getSimdKernel(): GemmSimdKernel | null {
    if (this.simdKernel === undefined) this.simdKernel = this.useSimd ? createGemmSimdKernel() : null;
    return this.simdKernel;
  }

  /** Threads a large matmul runs on (1 where workers or SharedArrayBuffer are unavailable). */
  get threadCount(): number {
    return this.getPool()?.size ?? 1;
  }

  /** Products that ran on the thread pool so far. */
  get pooledProducts(): number {
    return this.pool?.jobs ?? 0;
  }

  private getPool(): ThreadPool | null {
    if (this.pool === undefined) {
      const simd = this.getSimdKernel() ? GEMM_SIMD_WASM : null;
      this.pool = this.threads === 1 ? null : ThreadPool.create(this.threads === 'auto' ? undefined : this.threads, simd);
    }
    return this.pool;
  }

  /**
   * Bytes of tensor storage this backend has allocated so far (a counter, never decreased: the
   * difference over a piece of work is what that work allocated; see bench and the sweep's
   * regularizer cost). Scratch space inside kernels is not counted.
   */
  get bytesAllocated(): number {
    return this.allocated;
  }

  private allocated = 0;

  /** Of bytesAllocated, the bytes that came from disposed storage rather than a fresh array. */
  get bytesReused(): number {
    return this.reused;
  }

  private reused = 0;

  // --- storage reuse ------------------------------------------------------------------------
  //
  // A fresh typed array costs more than the loop that fills it: the memory is zeroed or
  // page-faulted in, and the collector must later find and free it. At batch 64 an autoencoder
  // step allocates ~140 MB, half of it gradients that backward() is done with before the step
  // ends. Those come back here through dispose() and are handed out again, zeroed, for the next
  // tensor of the same length and dtype. Nothing else disposes CPU storage: a tensor the program
  // can still reach is never reused.

  private readonly poolLimit: number;
  /** Disposed arrays by dtype and length. */
  private readonly free = new Map<string, Arr[]>();
  private readonly inPool = new Set<Arr>();
  private pooledBytes = 0;
  private tracking: Arr[] | null = null;

  /**
   * A new array of `size` elements. Reused storage is zeroed unless the caller passes
   * `zeroed = false`, promising to write every element (the elementwise and movement loops).
   */
  private alloc(size: number, dtype: DType, zeroed = true): Arr {
    const list = this.pooledBytes > 0 ? this.free.get(poolKey(size, dtype)) : undefined;
    let a = list?.pop();
    if (a) {
      this.inPool.delete(a);
      this.pooledBytes -= a.byteLength;
      this.reused += a.byteLength;
      if (zeroed) a.fill(0);
    } else {
      try {
        a = dtype === 'int32' ? new Int32Array(size) : new this.F(size);
      } catch (e) {
        // Within MAX_ELEMENTS the ops have already checked; what fails here is the machine's memory.
        throw new BackendError('cpu', `cannot allocate ${size} ${dtype} elements (${((size * (dtype === 'int32' ? 4 : this.F.BYTES_PER_ELEMENT)) / 2 ** 30).toFixed(2)} GiB): ${(e as Error).message}`);
      }
    }
    this.allocated += a.byteLength;
    this.tracking?.push(a);
    return a;
  }

  /**
   * Hands x's storage back for reuse. The caller promises that no tensor will read x again
   * (backward() does this only for gradients it made and no longer holds). Storage beyond the
   * pool's limit is left to the garbage collector.
   */
  dispose(x: DataHandle): void {
    const a = x as Arr;
    if (this.inPool.has(a) || a.byteLength === 0 || this.pooledBytes + a.byteLength > this.poolLimit) return;
    const key = poolKey(a.length, a instanceof Int32Array ? 'int32' : 'float32');
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(a);
    this.inPool.add(a);
    this.pooledBytes += a.byteLength;
  }

  /** Runs fn and returns what it returned with the handles allocated meanwhile (not nested: an inner call reports none). */
  trackAllocations<T>(fn: () => T): { result: T; allocated: DataHandle[] } {
    if (this.tracking) return { result: fn(), allocated: [] };
    const allocated: Arr[] = [];
    this.tracking = allocated;
    try {
      return { result: fn(), allocated };
    } finally {
      this.tracking = null;
    }
  }

  // --- memory -------------------------------------------------------------------------------

  fromArray(values: ArrayLike<number>, dtype: DType): DataHandle {
    const out = this.alloc(values.length, dtype, false);
    if (ArrayBuffer.isView(values)) out.set(values as Arr);
    else for (let i = 0; i < values.length; i++) out[i] = values[i]!;
    return out;
  }

  read(x: DataHandle, size: number, dtype: DType): HostArray {
    const a = x as Arr;
    if (a.length !== size) throw new Error(`cpu.read: handle holds ${a.length} values, expected ${size}`);
    return dtype === 'int32' ? Int32Array.from(a as Int32Array) : (a as FArr).slice();
  }

  full(size: number, value: number, dtype: DType): DataHandle {
    return this.alloc(size, dtype, false).fill(value);
  }

  cast(x: DataHandle, _size: number, _from: DType, to: DType): DataHandle {
    const a = x as Arr;
    const out = this.alloc(a.length, to, false);
    if (to === 'int32') for (let i = 0; i < a.length; i++) out[i] = Math.trunc(a[i]!);
    else out.set(a);
    return out;
  }

  // --- elementwise --------------------------------------------------------------------------

  unary(op: UnaryOp, x: DataHandle, size: number, dtype: DType): DataHandle {
    const out = this.alloc(size, INT32_RESULT.has(op) ? 'int32' : dtype, false);
    // On float32 storage, a faster function with the same float32 results where there is one.
    const fn = (dtype === 'float32' && this.precision === 'float32' ? FLOAT32_OPS[op] : undefined) ?? unaryFn(op, dtype);
    stridedKernel(fn)([size], [out, x as Arr], [0, 0], [[1], [1]]);
    return out;
  }

  // --- fused softmax -------------------------------------------------------------------------
  // One pass over each row instead of six primitives (max, sub, exp, sum, log or div, sub), and
  // the same numbers: every intermediate is rounded as the composition stores it (R, and stores
  // into float32 storage), the sum runs in float64 in the same order as reduce's, and exp is the
  // unary primitive's (expf32 on float32 storage). A test compares the two bit for bit.

  softmaxRows(x: DataHandle, rows: number, len: number, log: boolean): { y: DataHandle; p: DataHandle } {
    const a = x as FArr;
    const y = this.alloc(rows * len, 'float32', false) as FArr;
    const p = log ? (this.alloc(rows * len, 'float32', false) as FArr) : y;
    // Math.fround and expf32 are written out at each use (not held in a variable) so that V8
    // inlines them; on float64 storage nothing is rounded and exp is Math.exp.
    const f32 = a instanceof Float32Array;
    for (let r = 0; r < rows; r++) {
      const base = r * len, end = base + len;
      let m = a[base]!; // the row's max; NaN if the row holds one (reduce's rule)
      for (let i = base + 1; i < end && m === m; i++) {
        const v = a[i]!;
        if (v !== v || v > m) m = v;
      }
      let sum = 0;
      if (f32) for (let i = base; i < end; i++) sum += p[i] = expf32(Math.fround(a[i]! - m)); // e = exp(x − max), in p until divided
      else for (let i = base; i < end; i++) sum += p[i] = Math.exp(a[i]! - m);
      const total = f32 ? Math.fround(sum) : sum;
      if (log) {
        const logTotal = f32 ? Math.fround(Math.log(total)) : Math.log(total);
        if (f32) for (let i = base; i < end; i++) y[i] = Math.fround(a[i]! - m) - logTotal;
        else for (let i = base; i < end; i++) y[i] = a[i]! - m - logTotal;
        for (let i = base; i < end; i++) p[i] = p[i]! / total;
      } else {
        for (let i = base; i < end; i++) y[i] = p[i]! / total;
      }
    }
    return { y, p };
  }

  softmaxRowsBackward(g: DataHandle, p: DataHandle, rows: number, len: number, log: boolean): DataHandle {
    const gr = g as FArr, pr = p as FArr;
    const out = this.alloc(rows * len, 'float32', false) as FArr;
    const f32 = gr instanceof Float32Array;
    for (let r = 0; r < rows; r++) {
      const base = r * len, end = base + len;
      let sum = 0;
      if (log) {
        for (let i = base; i < end; i++) sum += gr[i]!;
        const s = f32 ? Math.fround(sum) : sum;
        if (f32) for (let i = base; i < end; i++) out[i] = gr[i]! - Math.fround(pr[i]! * s);
        else for (let i = base; i < end; i++) out[i] = gr[i]! - pr[i]! * s;
      } else {
        if (f32) for (let i = base; i < end; i++) sum += Math.fround(gr[i]! * pr[i]!);
        else for (let i = base; i < end; i++) sum += gr[i]! * pr[i]!;
        const s = f32 ? Math.fround(sum) : sum;
        if (f32) for (let i = base; i < end; i++) out[i] = pr[i]! * Math.fround(gr[i]! - s);
        else for (let i = base; i < end; i++) out[i] = pr[i]! * (gr[i]! - s);
      }
    }
    return out;
  }

  convOutput(w: DataHandle, cols: DataHandle, bias: DataHandle | null, o: number, k: number, n: number, p: number): DataHandle {
    // The product goes to storage that is given back at once (so the next call reuses it, warm
    // and already mapped), then one pass writes each [p] line where NCHW wants it, bias added as
    // binary('add') would: the sum rounded to the storage.
    const prod = this.matmul(w, cols, { batch: 1, m: o, k, n: n * p, aBatchStride: 0, bBatchStride: 0, transA: false, transB: false }) as FArr;
    const out = this.alloc(n * o * p, 'float32', false) as FArr;
    const b = bias as FArr | null;
    for (let oc = 0; oc < o; oc++) {
      for (let img = 0; img < n; img++) {
        const from = (oc * n + img) * p, to = (img * o + oc) * p;
        if (b) {
          const v = b[oc]!;
          for (let t = 0; t < p; t++) out[to + t] = prod[from + t]! + v;
        } else {
          out.set(prod.subarray(from, from + p), to);
        }
      }
    }
    this.dispose(prod);
    return out;
  }

  binary(op: BinaryOp, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, dtype: DType): DataHandle {
    const out = this.alloc(sizeOf(outShape), INT32_RESULT.has(op) ? 'int32' : dtype, false);
    this.strided(stridedKernel(binaryFn(op, dtype)), outShape, out, [[a as Arr, aShape], [b as Arr, bShape]]);
    return out;
  }

  where(cond: DataHandle, cShape: Shape, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, dtype: DType): DataHandle {
    const out = this.alloc(sizeOf(outShape), dtype, false);
    this.strided(stridedKernel(WHERE_OP), outShape, out, [[cond as Arr, cShape], [a as Arr, aShape], [b as Arr, bShape]]);
    return out;
  }

  /** Runs a compiled loop writing contiguous `out` and reading each input broadcast to outShape. */
  private strided(kernel: ReturnType<typeof stridedKernel>, outShape: Shape, out: Arr, inputs: Array<[Arr, Shape]>): void {
    const { dims, strides } = collapseDims(outShape, [stridesOf(outShape), ...inputs.map(([, s]) => broadcastStrides(s, outShape))]);
    kernel(dims, [out, ...inputs.map(([x]) => x)], new Array(inputs.length + 1).fill(0), strides);
  }

  // --- reductions ---------------------------------------------------------------------------

  reduce(op: ReduceOp, x: DataHandle, outer: number, len: number, inner: number, dtype: DType): DataHandle {
    const a = x as Arr;
    const isArg = op === 'argmax' || op === 'argmin';
    const out = this.alloc(outer * inner, isArg ? 'int32' : dtype);
    if (len === 0) {
      if (op !== 'sum') throw new IndexError(op, 'cannot reduce over an empty axis');
      return out;
    }
    const acc = new Float64Array(inner);
    const best = new Int32Array(inner);
    for (let o = 0; o < outer; o++) {
      const base = o * len * inner;
      if (op === 'sum') {
        if (inner === 1) {
          let s = 0;
          for (let l = 0; l < len; l++) s += a[base + l]!;
          out[o] = s;
          continue;
        }
        acc.fill(0);
        for (let l = 0; l < len; l++) {
          const row = base + l * inner;
          for (let i = 0; i < inner; i++) acc[i] += a[row + i]!;
        }
      } else {
        // max/min and their positions (elementwise.ts, referenceReduce): NaN propagates, the first
        // NaN wins; otherwise the first extreme wins ties.
        const wantMax = op === 'max' || op === 'argmax';
        for (let i = 0; i < inner; i++) {
          acc[i] = a[base + i]!;
          best[i] = 0;
        }
        for (let l = 1; l < len; l++) {
          const row = base + l * inner;
          for (let i = 0; i < inner; i++) {
            const v = a[row + i]!;
            const cur = acc[i]!;
            if (cur !== cur) continue;
            if (v !== v || (wantMax ? v > cur : v < cur)) {
              acc[i] = v;
              best[i] = l;
            }
          }
        }
      }
      const dst = o * inner;
      if (isArg) out.set(best, dst);
      else for (let i = 0; i < inner; i++) out[dst + i] = acc[i]!;
    }
    return out;
  }

  // --- linear algebra -----------------------------------------------------------------------

  matmul(a: DataHandle, b: DataHandle, s: MatmulSpec): DataHandle {
    const A = a as FArr, B = b as FArr;
    // Element (i, p) of op(A) sits at i·ars + p·acs; (p, j) of op(B) at p·brs + j·bcs.
    const ars = s.transA ? 1 : s.k, acs = s.transA ? s.m : 1;
    const brs = s.transB ? 1 : s.n, bcs = s.transB ? s.k : 1;
    const work = s.batch * s.m * s.n * s.k;
    const pool = work >= this.parallelThreshold && Math.max(s.m, s.n) >= 8 ? this.getPool() : null;
    if (pool) {
      const job = { batch: s.batch, m: s.m, n: s.n, k: s.k, aOff: 0, ars, acs, brs, bcs, aBatchStride: s.aBatchStride, bBatchStride: s.bBatchStride };
      return pool.gemm(job, A, B, this.precision === 'float64', this.getSimdKernel());
    }
    const out = this.alloc(s.batch * s.m * s.n, 'float32') as FArr;
    const simd = this.getSimdKernel();
    for (let q = 0; q < s.batch; q++) {
      gemmRows(s.m, s.n, s.k, A, q * s.aBatchStride, ars, acs, B, q * s.bBatchStride, brs, bcs, out, q * s.m * s.n, s.n, 0, s.m, simd);
    }
    return out;
  }

  // --- movement -----------------------------------------------------------------------------

  permute(x: DataHandle, shape: Shape, perm: readonly number[], dtype: DType): DataHandle {
    const inStrides = stridesOf(shape);
    const outShape = perm.map((p) => shape[p]!);
    const out = this.alloc(sizeOf(shape), dtype, false);
    const { dims, strides } = collapseDims(outShape, [stridesOf(outShape), perm.map((p) => inStrides[p]!)]);
    if (!copyRuns(dims, out, x as Arr, 0, strides)) stridedKernel(copy)(dims, [out, x as Arr], [0, 0], strides);
    return out;
  }

  broadcastTo(x: DataHandle, shape: Shape, outShape: Shape, dtype: DType): DataHandle {
    const out = this.alloc(sizeOf(outShape), dtype, false);
    this.strided(stridedKernel(copy), outShape, out, [[x as Arr, shape]]);
    return out;
  }

  slice(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, dtype: DType): DataHandle {
    const st = stridesOf(shape);
    const out = this.alloc(sizeOf(outShape), dtype, false);
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += begin[d]! * st[d]!;
    const { dims, strides } = collapseDims(outShape, [stridesOf(outShape), st.map((s, d) => s * step[d]!)]);
    if (!copyRuns(dims, out, x as Arr, off, strides)) stridedKernel(copy)(dims, [out, x as Arr], [0, off], strides);
    return out;
  }

  sliceScatter(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, fill: number, dtype: DType): DataHandle {
    const st = stridesOf(outShape);
    const out = this.alloc(sizeOf(outShape), dtype);
    if (fill !== 0) out.fill(fill);
    let off = 0;
    for (let d = 0; d < outShape.length; d++) off += begin[d]! * st[d]!;
    const { dims, strides } = collapseDims(shape, [st.map((s, d) => s * step[d]!), stridesOf(shape)]);
    stridedKernel(copy)(dims, [out, x as Arr], [off, 0], strides);
    return out;
  }

  concat(xs: readonly DataHandle[], outer: number, lens: readonly number[], inner: number, dtype: DType): DataHandle {
    const total = lens.reduce((s, l) => s + l, 0);
    const out = this.alloc(outer * total * inner, dtype);
    let col = 0;
    xs.forEach((h, i) => {
      const a = h as Arr;
      const block = lens[i]! * inner;
      for (let o = 0; o < outer; o++) out.set(a.subarray(o * block, (o + 1) * block), (o * total + col) * inner);
      col += lens[i]!;
    });
    return out;
  }

  // --- indexing -----------------------------------------------------------------------------

  private checkIndex(op: string, v: number, len: number): void {
    if (v < 0 || v >= len) throw new IndexError(op, `index ${v} is out of range for an axis of size ${len}`);
  }

  gather(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, dtype: DType): DataHandle {
    const a = x as Arr, idx = index as Int32Array;
    const out = this.alloc(outer * idxLen * inner, dtype);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const r = (o * idxLen + j) * inner;
        for (let i = 0; i < inner; i++) {
          const v = idx[r + i]!;
          this.checkIndex('gather', v, len);
          out[r + i] = a[(o * len + v) * inner + i]!;
        }
      }
    }
    return out;
  }

  scatterAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, dtype: DType): DataHandle {
    const out = this.alloc(outer * len * inner, dtype);
    out.set(base as Arr);
    const idx = index as Int32Array, s = src as Arr;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const r = (o * idxLen + j) * inner;
        for (let i = 0; i < inner; i++) {
          const v = idx[r + i]!;
          this.checkIndex('scatterAdd', v, len);
          out[(o * len + v) * inner + i] += s[r + i]!;
        }
      }
    }
    return out;
  }

  indexSelect(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, dtype: DType): DataHandle {
    const a = x as Arr, idx = index as Int32Array;
    const out = this.alloc(outer * idxLen * inner, dtype);
    for (let j = 0; j < idxLen; j++) this.checkIndex('indexSelect', idx[j]!, len);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const from = (o * len + idx[j]!) * inner;
        out.set(a.subarray(from, from + inner), (o * idxLen + j) * inner);
      }
    }
    return out;
  }

  indexAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, dtype: DType): DataHandle {
    const out = this.alloc(outer * len * inner, dtype);
    out.set(base as Arr);
    const idx = index as Int32Array, s = src as Arr;
    for (let j = 0; j < idxLen; j++) this.checkIndex('indexAdd', idx[j]!, len);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const to = (o * len + idx[j]!) * inner;
        const from = (o * idxLen + j) * inner;
        for (let i = 0; i < inner; i++) out[to + i] += s[from + i]!;
      }
    }
    return out;
  }

  topk(x: DataHandle, outer: number, len: number, inner: number, k: number, largest: boolean, dtype: DType): { values: DataHandle; indices: DataHandle } {
    const a = x as Arr;
    const values = this.alloc(outer * k * inner, dtype);
    const indices = this.alloc(outer * k * inner, 'int32');
    // `before(u, v)`: value u ranks ahead of v; NaN counts as larger than +Inf, so it ranks first
    // when largest and last when smallest (elementwise.ts, referenceTopk). Equal values keep index order.
    const before = RANKS_BEFORE[largest ? 'largest' : 'smallest'];
    // Each (o, i) is one line of len values, `inner` apart: read in place, so a top-k along a
    // leading axis (the KNN regularizer's, over the batch) needs no transposed copy.
    const order = new Int32Array(len);
    for (let o = 0; k > 0 && o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        const out = o * k * inner + i; // entry q of this line's result is at out + q·inner
        if (k <= 32) {
          // Insertion into a sorted buffer of k: O(len·k) worst case, ~O(len) for typical data.
          let filled = 0;
          for (let c = 0; c < len; c++) {
            const v = a[base + c * inner]!;
            if (filled === k && !before(v, values[out + (k - 1) * inner]!)) continue;
            let pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && before(v, values[out + (pos - 1) * inner]!)) {
              values[out + pos * inner] = values[out + (pos - 1) * inner]!;
              indices[out + pos * inner] = indices[out + (pos - 1) * inner]!;
              pos--;
            }
            values[out + pos * inner] = v;
            indices[out + pos * inner] = c;
          }
        } else {
          for (let c = 0; c < len; c++) order[c] = c;
          const sorted = Array.from(order).sort((p, q) => {
            const u = a[base + p * inner]!, v = a[base + q * inner]!;
            return before(u, v) ? -1 : before(v, u) ? 1 : p - q;
          });
          for (let q = 0; q < k; q++) {
            indices[out + q * inner] = sorted[q]!;
            values[out + q * inner] = a[base + sorted[q]! * inner]!;
          }
        }
      }
    }
    return { values, indices };
  }

  // --- convolution --------------------------------------------------------------------------

  // Both loop over output rows (c, ki, kj) and, inside, over images and output lines; the range
  // of output columns whose input lies inside the image is computed once per kernel column, so
  // the innermost loop has no bounds test.
  im2col(x: DataHandle, g: ConvGeometry): DataHandle {
    const src = x as FArr;
    const { n: N, c: C, h: H, w: W, kh: KH, kw: KW, oh: OH, ow: OW, strideH: SH, strideW: SW, padH: PH, padW: PW, dilationH: DH, dilationW: DW } = g;
    const P = N * OH * OW, plane = H * W;
    const out = this.alloc(C * KH * KW * P, 'float32') as FArr;
    for (let c = 0; c < C; c++) {
      for (let ki = 0; ki < KH; ki++) {
        for (let kj = 0; kj < KW; kj++) {
          const row = ((c * KH + ki) * KW + kj) * P;
          // Input column ix = ox·strideW + shift; outside [oxLo, oxHi) it falls in the padding (zeros).
          const shift = kj * DW - PW;
          const [oxLo, oxHi] = validRange(shift, SW, W, OW);
          if (SH === 1 && SW === 1 && OW === W) {
            // Output lines as long as input lines, both strides 1 (the "same" convolutions): the
            // valid output lines of an image are one run of the shifted input plane. Copy it with
            // set (a memcpy, 3–4× a JavaScript loop over runs of a line), then clear the columns
            // that wrapped around from the neighbouring line (the padding).
            const oyLo = Math.min(OH, Math.max(0, PH - ki * DH)), oyHi = Math.max(oyLo, Math.min(OH, H + PH - ki * DH));
            if (oyLo === oyHi || oxLo === oxHi) continue;
            // From the first valid value to the last, so every read stays inside the plane.
            const q0 = oyLo * OW + oxLo, q1 = (oyHi - 1) * OW + oxHi;
            for (let n = 0; n < N; n++) {
              const dst = row + n * OH * OW, from = (n * C + c) * plane + shift + (ki * DH - PH) * W;
              out.set(src.subarray(from + q0, from + q1), dst + q0);
              if (oxLo > 0 || oxHi < OW) {
                for (let oy = oyLo; oy < oyHi; oy++) {
                  const line = dst + oy * OW;
                  for (let ox = 0; ox < oxLo; ox++) out[line + ox] = 0;
                  for (let ox = oxHi; ox < OW; ox++) out[line + ox] = 0;
                }
              }
            }
            continue;
          }
          for (let n = 0; n < N; n++) {
            const base = (n * C + c) * plane + shift;
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * SH - PH + ki * DH;
              if (iy < 0 || iy >= H) continue; // stays zero (padding)
              const dst = row + (n * OH + oy) * OW;
              const srow = base + iy * W;
              for (let ox = oxLo; ox < oxHi; ox++) out[dst + ox] = src[srow + ox * SW]!;
            }
          }
        }
      }
    }
    return out;
  }

  col2im(cols: DataHandle, g: ConvGeometry): DataHandle {
    const src = cols as FArr;
    const { n: N, c: C, h: H, w: W, kh: KH, kw: KW, oh: OH, ow: OW, strideH: SH, strideW: SW, padH: PH, padW: PW, dilationH: DH, dilationW: DW } = g;
    const P = N * OH * OW, plane = H * W;
    const out = this.alloc(N * C * plane, 'float32') as FArr;
    for (let c = 0; c < C; c++) {
      for (let ki = 0; ki < KH; ki++) {
        for (let kj = 0; kj < KW; kj++) {
          const row = ((c * KH + ki) * KW + kj) * P;
          const shift = kj * DW - PW;
          const [oxLo, oxHi] = validRange(shift, SW, W, OW);
          for (let n = 0; n < N; n++) {
            const base = (n * C + c) * plane + shift;
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * SH - PH + ki * DH;
              if (iy < 0 || iy >= H) continue;
              const s = row + (n * OH + oy) * OW;
              const drow = base + iy * W;
              for (let ox = oxLo; ox < oxHi; ox++) out[drow + ox * SW] += src[s + ox]!;
            }
          }
        }
      }
    }
    return out;
  }

}

/** The outputs [lo, hi) of a row of `count` whose input column ox·stride + shift lies in [0, width). */
function validRange(shift: number, stride: number, width: number, count: number): [number, number] {
  const lo = Math.min(count, Math.max(0, Math.ceil(-shift / stride)));
  const hi = Math.max(lo, Math.min(count, Math.floor((width - 1 - shift) / stride) + 1));
  return [lo, hi];
}
