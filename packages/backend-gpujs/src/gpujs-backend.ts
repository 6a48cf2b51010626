/**
 * The Backend interface implemented with gpu.js kernels.
 *
 * gpu.js compiles a JavaScript function into a GLSL fragment shader (WebGL2/WebGL in a browser,
 * headless-gl in Node), a WebAssembly SIMD module, or plain JavaScript. Each primitive here
 * builds the source of one kernel (kernel-source.ts) and runs it; kernels are compiled once per
 * source and cached.
 *
 * Data: on GL targets a handle holds a texture that stays on the device between kernels
 * (gpu.js's pipeline mode); host arrays are uploaded when a kernel first reads them, and results
 * are read back only by `read`. Textures are released when their tensor is garbage-collected
 * (a FinalizationRegistry), or at once through `dispose`; since the collector does not see device
 * memory, a budget (maxDeviceBytes) moves the oldest live textures to the host when it is
 * exceeded, so device memory stays bounded whatever the collector does. On the webasm and cpu targets a handle
 * holds a Float32Array. int32 tensors are stored as floats (exact below 2^24).
 */
import { BackendError, type Backend, type BinaryOp, type ConvGeometry, type DType, type DataHandle, type HostArray, type MatmulSpec, type ReduceOp, type Shape, type UnaryOp, broadcastStrides, collapseDims as collapse, sizeOf, stridesOf } from '@simplex-vq/tensor';
import gpujs from 'gpu.js';
import { ERF_SOURCE, LOG_SOURCE, POW_SOURCE, SIN_SOURCE, kernel, lit, offsetExpr, unravel } from './kernel-source.js';

type GPUInstance = InstanceType<typeof gpujs.GPU>;
type Texture = { toArray(): unknown; delete(): void };
type KernelFn = ((...args: unknown[]) => unknown) & { kernel?: { fallbackReason?: string | null; constructor: { name: string } } };

/** gpu.js's synchronous modes. 'gpu' lets gpu.js choose (GL where it works, else webasm). */
export type GpuJsMode = 'gpu' | 'webgl2' | 'webgl' | 'headlessgl' | 'webasm' | 'cpu';

export interface GpuJsBackendOptions {
  mode?: GpuJsMode | 'webgpu' | 'async';
  /**
   * Device memory the backend keeps at most (GL targets; default 256 MiB). Textures of tensors
   * that are garbage-collected are released as soon as the collector reports them; if live ones
   * pass this budget, the oldest are moved to host memory (and uploaded again if used).
   */
  maxDeviceBytes?: number;
  /** An existing gpu.js GPU class (e.g. the browser build's `GPU.GPU`); default: the 'gpu.js' package. */
  GPU?: typeof gpujs.GPU;
}

/** What a handle holds: the data (texture or array) and its element count. */
class GpuData {
  constructor(
    readonly size: number,
    public value: Float32Array | Texture,
  ) {}
}

/**
 * Each op's kernel expression over its input v (unary) or x, y (binary): the definitions of
 * @simplex-vq/tensor's elementwise.ts (UNARY_OPS, BINARY_OPS) written in the JavaScript subset gpu.js
 * compiles to GLSL, where NaN must be tested for explicitly (GLSL's max, sign and exp need not
 * propagate it) and `Infinity` is the largest float. The parity suite checks every one against the
 * definitions on SPECIAL_VALUES.
 */
const UNARY: Record<UnaryOp, string> = {
  neg: '-v',
  exp: 'v !== v ? v : Math.exp(v)',
  log: 'logC(v)',
  sqrt: 'Math.sqrt(v)',
  abs: 'Math.abs(v)',
  sign: 'v !== v ? v : Math.sign(v)',
  relu: '(v > 0.0 || v !== v) ? v : 0.0',
  sigmoid: 'v !== v ? v : 1.0 / (1.0 + Math.exp(-v))',
  // tanh(±10) rounds to ±1 in float32; past that, GLSL's tanh may give Inf/Inf = NaN.
  tanh: 'v > 10.0 ? 1.0 : (v < -10.0 ? -1.0 : Math.tanh(v))',
  erf: 'erfApprox(v)',
  // gelu(−Inf) = 0, not −Inf·0.
  gelu: 'v < -3.4028234e38 ? 0.0 : 0.5 * v * (1.0 + erfApprox(v * 0.7071067811865476))',
  sin: 'sinApprox(v)',
  cos: 'sinApprox(v + 1.5707963267948966)',
  square: 'v * v',
  reciprocal: '1.0 / v',
  floor: 'Math.floor(v)',
  // NaN fails every comparison; ±Inf exceeds the largest float32.
  isFinite: '(v >= -3.4028234e38 && v <= 3.4028234e38) ? 1.0 : 0.0',
};

const BINARY: Record<BinaryOp, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  pow: 'powC(x, y)',
  maximum: '(x > y || x !== x) ? x : y',
  minimum: '(x < y || x !== x) ? x : y',
  eq: 'x === y ? 1.0 : 0.0',
  ne: 'x !== y ? 1.0 : 0.0',
  lt: 'x < y ? 1.0 : 0.0',
  le: 'x <= y ? 1.0 : 0.0',
  gt: 'x > y ? 1.0 : 0.0',
  ge: 'x >= y ? 1.0 : 0.0',
};

function deleteTexture(t: Texture): void {
  try {
    t.delete();
  } catch {
    /* the context may already be gone */
  }
}

export class GpuJsBackend implements Backend {
  readonly name = 'gpujs';
  readonly gpu: GPUInstance;
  /** The mode that was asked for. */
  readonly requestedMode: GpuJsMode;
  private readonly kernels = new Map<string, KernelFn>();
  private lastFallbackReason: string | null = null;
  private readonly maxDeviceBytes: number;
  /** Device-resident data in creation order (weak: the tensors own it). */
  private resident: Array<WeakRef<GpuData>> = [];
  private readonly finalizer: FinalizationRegistry<{ texture: Texture; bytes: number }> | null;
  /** Textures alive on the device (GL targets), and their bytes: for leak checks. */
  liveTextures = 0;
  liveBytes = 0;
  /** Textures moved to host memory because the budget was exceeded. */
  spilledTextures = 0;

  constructor(opts: GpuJsBackendOptions = {}) {
    const mode = opts.mode ?? 'gpu';
    if (mode === 'webgpu' || mode === 'async') {
      throw new BackendError(
        'createGpuJsBackend',
        `mode '${mode}' makes every gpu.js kernel call asynchronous (it returns a Promise), which a synchronous engine cannot wait for; use 'gpu', 'webgl2', 'webgl', 'headlessgl', 'webasm' or 'cpu'`,
      );
    }
    const valid: GpuJsMode[] = ['gpu', 'webgl2', 'webgl', 'headlessgl', 'webasm', 'cpu'];
    if (!valid.includes(mode)) throw new BackendError('createGpuJsBackend', `unknown mode '${mode}'; expected one of ${valid.join(', ')}`);
    this.requestedMode = mode;
    this.maxDeviceBytes = opts.maxDeviceBytes ?? 256 * 2 ** 20;
    this.finalizer =
      typeof FinalizationRegistry !== 'undefined'
        ? new FinalizationRegistry(({ texture, bytes }) => {
            deleteTexture(texture);
            this.liveTextures--;
            this.liveBytes -= bytes;
          })
        : null;
    const GPU = opts.GPU ?? gpujs.GPU;
    try {
      this.gpu = new GPU({ mode });
    } catch (err) {
      throw new BackendError('createGpuJsBackend', `gpu.js cannot run mode '${mode}' here: ${(err as Error).message}`);
    }
    for (const fn of [ERF_SOURCE, SIN_SOURCE, LOG_SOURCE, POW_SOURCE]) this.gpu.addFunction(fn as unknown as Parameters<GPUInstance['addFunction']>[0]);
  }

  /** The target gpu.js actually runs: 'webgl2', 'webgl', 'headlessgl', 'webasm' or 'cpu'. */
  get target(): string {
    const K = (this.gpu as unknown as { Kernel: { mode?: string; name: string } }).Kernel;
    const byClass: Record<string, string> = { WebGL2Kernel: 'webgl2', WebGLKernel: 'webgl', HeadlessGLKernel: 'headlessgl', WebAssemblyKernel: 'webasm', CPUKernel: 'cpu', WebGPUKernel: 'webgpu' };
    return byClass[K.name] ?? K.mode ?? K.name;
  }

  /** True when kernels run on a GPU (a GL target). */
  get onGpu(): boolean {
    return ['webgl2', 'webgl', 'headlessgl'].includes(this.target);
  }

  /** Why gpu.js last fell back to a slower target for a kernel (null if it never did). */
  get fallbackReason(): string | null {
    return this.lastFallbackReason;
  }

  /** Largest element count one kernel output may have (GL: maxTextureSize²). */
  get maxOutputSize(): number {
    if (!this.onGpu) return 2 ** 31 - 1;
    const K = (this.gpu as unknown as { Kernel: { features?: { maxTextureSize?: number } } }).Kernel;
    const max = K.features?.maxTextureSize ?? 4096;
    return max * max;
  }

  /** A one-line summary for logs: which target runs, and why if it is not the one asked for. */
  describe(): string {
    const fb = this.lastFallbackReason ? ` (fell back: ${this.lastFallbackReason})` : '';
    return `gpu.js ${this.requestedMode} → ${this.target}${this.onGpu ? ' (GPU)' : ' (CPU)'}${fb}`;
  }

  // --- running kernels ----------------------------------------------------------------------

  private run(op: string, source: string, size: number, args: unknown[]): GpuData {
    if (size === 0) return new GpuData(0, new Float32Array(0));
    if (size > this.maxOutputSize) {
      throw new BackendError(op, `output of ${size} elements exceeds this GPU's limit of ${this.maxOutputSize} (maxTextureSize²); split the work into smaller tensors`);
    }
    const key = `${size}|${source}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.gpu.createKernel(source, {
        output: [size],
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        loopMaxIterations: 1 << 30,
      } as never) as unknown as KernelFn;
      this.kernels.set(key, k);
    }
    let out: unknown;
    try {
      out = k(...args.map((a) => (a instanceof GpuData ? a.value : a)));
    } catch (err) {
      throw new BackendError(op, `gpu.js kernel failed on ${this.target}: ${(err as Error).message}`);
    }
    const reason = k.kernel?.fallbackReason;
    if (reason) this.lastFallbackReason = reason;
    if (out instanceof Float32Array) return new GpuData(size, out);
    return this.track(new GpuData(size, out as Texture));
  }

  /** Registers a new device texture for release, and keeps the device within its budget. */
  private track(data: GpuData): GpuData {
    const bytes = data.size * 4;
    this.liveTextures++;
    this.liveBytes += bytes;
    this.finalizer?.register(data, { texture: data.value as Texture, bytes }, data);
    this.resident.push(new WeakRef(data));
    if (this.liveBytes > this.maxDeviceBytes) {
      // Oldest first; entries whose tensor was collected (or already moved) are dropped.
      let i = 0;
      for (; i < this.resident.length - 1 && this.liveBytes > 0.75 * this.maxDeviceBytes; i++) {
        const d = this.resident[i]!.deref();
        if (d && !(d.value instanceof Float32Array)) this.spill(d);
      }
      this.resident = this.resident.slice(i).filter((r) => {
        const d = r.deref();
        return d !== undefined && !(d.value instanceof Float32Array);
      });
    }
    return data;
  }

  /** Moves a texture's values to host memory and releases the texture. */
  private spill(d: GpuData): void {
    const t = d.value as Texture;
    d.value = Float32Array.from(t.toArray() as Float32Array);
    this.release(d, t);
    this.spilledTextures++;
  }

  private release(d: GpuData, t: Texture): void {
    this.finalizer?.unregister(d);
    deleteTexture(t);
    this.liveTextures--;
    this.liveBytes -= d.size * 4;
  }

  private h(x: DataHandle): GpuData {
    return x as GpuData;
  }

  // --- memory -------------------------------------------------------------------------------

  fromArray(values: ArrayLike<number>, _dtype: DType): DataHandle {
    return new GpuData(values.length, Float32Array.from(values));
  }

  read(x: DataHandle, size: number, dtype: DType): HostArray {
    const d = this.h(x);
    if (d.size !== size) throw new BackendError('read', `handle holds ${d.size} values, expected ${size}`);
    const v = d.value instanceof Float32Array ? d.value : (d.value.toArray() as Float32Array);
    return dtype === 'int32' ? Int32Array.from(v) : Float32Array.from(v);
  }

  full(size: number, value: number, _dtype: DType): DataHandle {
    return this.run('full', kernel([], `return ${lit(value)};`), size, []);
  }

  cast(x: DataHandle, size: number, from: DType, to: DType): DataHandle {
    if (from === to || to === 'float32') return x; // int32 data is already stored as floats
    return this.run('cast', kernel(['x'], 'return Math.trunc(x[this.thread.x]);'), size, [x]);
  }

  dispose(x: DataHandle): void {
    const d = this.h(x);
    if (!(d.value instanceof Float32Array)) {
      const t = d.value;
      d.value = new Float32Array(0);
      this.release(d, t);
    }
  }

  // --- elementwise --------------------------------------------------------------------------

  unary(op: UnaryOp, x: DataHandle, size: number, _dtype: DType): DataHandle {
    return this.run(op, kernel(['x'], `const v = x[this.thread.x];\n  return ${UNARY[op]};`), size, [x]);
  }

  /** A broadcasting kernel over inputs named x, y, z combined by `expr`. */
  private broadcast(op: string, expr: string, outShape: Shape, inputs: Array<[DataHandle, Shape]>): GpuData {
    const names = ['x', 'y', 'z'].slice(0, inputs.length);
    const { dims, strides } = collapse(outShape, inputs.map(([, s]) => broadcastStrides(s, outShape)));
    const loads = names.map((n, i) => `const ${n} = ${n}In[${offsetExpr(strides[i]!)}];`).join('\n  ');
    const src = kernel(names.map((n) => `${n}In`), `${unravel(dims)}\n  ${loads}\n  return ${expr};`);
    return this.run(op, src, sizeOf(outShape), inputs.map(([h]) => h));
  }

  binary(op: BinaryOp, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, _dtype: DType): DataHandle {
    return this.broadcast(op, BINARY[op], outShape, [[a, aShape], [b, bShape]]);
  }

  where(cond: DataHandle, cShape: Shape, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, _dtype: DType): DataHandle {
    return this.broadcast('where', 'x !== 0.0 ? y : z', outShape, [[cond, cShape], [a, aShape], [b, bShape]]);
  }

  // --- reductions ---------------------------------------------------------------------------

  /**
   * max/min and their positions follow @simplex-vq/tensor's rules (elementwise.ts,
   * referenceReduce): once the running best is NaN it stays (the first NaN wins), a NaN replaces
   * any number, and otherwise only a strictly better value does (the first extreme wins ties).
   * NaN is tested as `v !== v`, as in the elementwise kernels: GLSL's comparisons need not see it.
   */
  reduce(op: ReduceOp, x: DataHandle, outer: number, len: number, inner: number, _dtype: DType): DataHandle {
    const base = `${unravel([outer, inner])}\n  const base = c0 * ${lit(len * inner)} + c1;`;
    const at = (l: string) => `x[base + ${l} * ${lit(inner)}]`;
    let body: string;
    if (op === 'sum') {
      body = `let s = 0.0;\n  for (let l = 0; l < ${len}; l++) { s += ${at('l')}; }\n  return s;`;
    } else {
      const better = op === 'max' || op === 'argmax' ? 'v > best' : 'v < best';
      const result = op === 'argmax' || op === 'argmin' ? 'where' : 'best';
      body = `let best = ${at('0.0')};\n  let where = 0.0;\n  for (let l = 1; l < ${len}; l++) {\n    const v = ${at('l')};\n    if (best === best && (v !== v || ${better})) { best = v; where = l; }\n  }\n  return ${result};`;
    }
    return this.run(op, kernel(['x'], `${base}\n  ${body}`), outer * inner, [x]);
  }

  // --- linear algebra -----------------------------------------------------------------------

  matmul(a: DataHandle, b: DataHandle, s: MatmulSpec): DataHandle {
    const ars = s.transA ? 1 : s.k, acs = s.transA ? s.m : 1;
    const brs = s.transB ? 1 : s.n, bcs = s.transB ? s.k : 1;
    const src = kernel(
      ['a', 'b'],
      `${unravel([s.batch, s.m, s.n])}
  const ao = c0 * ${lit(s.aBatchStride)} + c1 * ${lit(ars)};
  const bo = c0 * ${lit(s.bBatchStride)} + c2 * ${lit(bcs)};
  let sum = 0.0;
  for (let p = 0; p < ${s.k}; p++) {
    sum += a[ao + p * ${lit(acs)}] * b[bo + p * ${lit(brs)}];
  }
  return sum;`,
    );
    return this.run('matmul', src, s.batch * s.m * s.n, [a, b]);
  }

  // --- movement -----------------------------------------------------------------------------

  /** out[c] = x[offset + Σ c_d·strides_d] over `dims`. */
  private stridedCopy(op: string, x: DataHandle, dims: readonly number[], strides: readonly number[], offset: number): GpuData {
    const c = collapse(dims, [stridesOf(dims), strides]);
    const src = kernel(['x'], `${unravel(c.dims)}\n  return x[${offsetExpr(c.strides[1]!, offset)}];`);
    return this.run(op, src, sizeOf(dims), [x]);
  }

  permute(x: DataHandle, shape: Shape, perm: readonly number[], _dtype: DType): DataHandle {
    const st = stridesOf(shape);
    return this.stridedCopy('permute', x, perm.map((p) => shape[p]!), perm.map((p) => st[p]!), 0);
  }

  broadcastTo(x: DataHandle, shape: Shape, outShape: Shape, _dtype: DType): DataHandle {
    return this.stridedCopy('broadcastTo', x, outShape, broadcastStrides(shape, outShape), 0);
  }

  slice(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, _dtype: DType): DataHandle {
    const st = stridesOf(shape);
    const offset = begin.reduce((acc, b, d) => acc + b * st[d]!, 0);
    return this.stridedCopy('slice', x, outShape, st.map((s, d) => s * step[d]!), offset);
  }

  sliceScatter(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, fill: number, _dtype: DType): DataHandle {
    // Each output element checks whether it is one of the written positions: begin + i·step, i < shape.
    const st = stridesOf(shape);
    const checks: string[] = [];
    const terms: string[] = [];
    outShape.forEach((_, d) => {
      checks.push(`const r${d} = c${d} - ${lit(begin[d]!)};`);
      checks.push(`const i${d} = Math.floor((r${d} + 0.5) / ${lit(step[d]!)});`);
      checks.push(`if (r${d} < 0.0 || i${d} >= ${lit(shape[d]!)} || i${d} * ${lit(step[d]!)} !== r${d}) { return ${lit(fill)}; }`);
      terms.push(`i${d} * ${lit(st[d]!)}`);
    });
    const src = kernel(['x'], `${unravel(outShape)}\n  ${checks.join('\n  ')}\n  return x[${terms.join(' + ') || '0.0'}];`);
    return this.run('sliceScatter', src, sizeOf(outShape), [x]);
  }

  concat(xs: readonly DataHandle[], outer: number, lens: readonly number[], inner: number, _dtype: DType): DataHandle {
    const total = lens.reduce((s, l) => s + l, 0);
    let start = 0;
    const branches = lens.map((l, i) => {
      const read = `x${i}[(c0 * ${lit(l)} + c1 - ${lit(start)}) * ${lit(inner)} + c2]`;
      start += l;
      return i === lens.length - 1 ? `return ${read};` : `if (c1 < ${lit(start)}) { return ${read}; }`;
    });
    const src = kernel(xs.map((_, i) => `x${i}`), `${unravel([outer, total, inner])}\n  ${branches.join('\n  ')}`);
    return this.run('concat', src, outer * total * inner, [...xs]);
  }

  // --- indexing -----------------------------------------------------------------------------

  gather(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, _dtype: DType): DataHandle {
    const src = kernel(['x', 'index'], `${unravel([outer, idxLen, inner])}\n  const v = index[this.thread.x];\n  return x[(c0 * ${lit(len)} + v) * ${lit(inner)} + c2];`);
    return this.run('gather', src, outer * idxLen * inner, [x, index]);
  }

  /**
   * GPUs have no scatter without atomics, so each output element gathers instead: it scans the
   * idxLen entries that could land on it (cost outer·len·inner·idxLen reads).
   */
  scatterAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, _dtype: DType): DataHandle {
    const body = `${unravel([outer, len, inner])}
  let s = base[this.thread.x];
  for (let j = 0; j < ${idxLen}; j++) {
    const at = (c0 * ${lit(idxLen)} + j) * ${lit(inner)} + c2;
    if (index[at] === c1) { s += src[at]; }
  }
  return s;`;
    return this.run('scatterAdd', kernel(['base', 'index', 'src'], body), outer * len * inner, [base, index, src]);
  }

  indexSelect(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, _dtype: DType): DataHandle {
    const src = kernel(['x', 'index'], `${unravel([outer, idxLen, inner])}\n  return x[(c0 * ${lit(len)} + index[c1]) * ${lit(inner)} + c2];`);
    return this.run('indexSelect', src, outer * idxLen * inner, [x, index]);
  }

  /** Gather-style, as scatterAdd: each output element sums the source rows whose index is its own. */
  indexAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, _dtype: DType): DataHandle {
    const body = `${unravel([outer, len, inner])}
  let s = base[this.thread.x];
  for (let j = 0; j < ${idxLen}; j++) {
    if (index[j] === c1) { s += src[(c0 * ${lit(idxLen)} + j) * ${lit(inner)} + c2]; }
  }
  return s;`;
    return this.run('indexAdd', kernel(['base', 'index', 'src'], body), outer * len * inner, [base, index, src]);
  }

  /**
   * Thread (r, q) finds the q-th entry of row r by q+1 rounds of "the best entry ranked after the
   * previous one": O(k·cols) reads per thread, meant for the small k of nearest-neighbour selection.
   *
   * The order is @simplex-vq/tensor's (elementwise.ts, referenceTopk): NaN counts as larger than
   * +Inf, equal values (NaNs among them) in index order. Each entry is ranked by a key (n, v),
   * compared first by n and then by v, largest first: for largest, n = 1 for NaN (with v = 0) and
   * 0 otherwise, v the value; for smallest, n = −1 for NaN and v the negated value. NaN is found as
   * `v !== v`, as in the elementwise kernels, and never compared; flags are floats and conditions
   * are nested ifs (no boolean variables in the kernel).
   */
  topk(x: DataHandle, outer: number, len: number, inner: number, k: number, largest: boolean, dtype: DType): { values: DataHandle; indices: DataHandle } {
    const nanKey = largest ? '1.0' : '-1.0';
    const key = largest ? 'raw' : '-raw';
    // Output (c0, c1, c2) = (o, s, i): the s-th ranked position along the line of (o, i), whose
    // len values lie `inner` apart from rowBase.
    const body = `${unravel([outer, k, inner])}
  const rowBase = c0 * ${lit(len * inner)} + c2;
  let pv = 0.0;
  let pn = 0.0;
  let pc = -1.0;
  for (let s = 0; s < ${k}; s++) {
    if (s <= c1) {
      let bv = 0.0;
      let bn = 0.0;
      let bc = -1.0;
      for (let c = 0; c < ${len}; c++) {
        const raw = x[rowBase + c * ${lit(inner)}];
        let n = 0.0;
        let v = 0.0;
        if (raw !== raw) { n = ${nanKey}; } else { v = ${key}; }
        if (pc < 0.0 || pn > n || (pn === n && (pv > v || (pv === v && c > pc)))) {
          if (bc < 0.0 || n > bn || (n === bn && v > bv)) { bv = v; bn = n; bc = c; }
        }
      }
      pv = bv;
      pn = bn;
      pc = bc;
    }
  }
  return pc;`;
    const indices = this.run('topk', kernel(['x'], body), outer * k * inner, [x]);
    const values = this.gather(x, outer, len, inner, indices, k, dtype);
    return { values, indices };
  }

  // --- convolution --------------------------------------------------------------------------

  im2col(x: DataHandle, g: ConvGeometry): DataHandle {
    const P = g.n * g.oh * g.ow;
    const body = `${unravel([g.c, g.kh, g.kw, g.n, g.oh, g.ow])}
  const iy = c4 * ${lit(g.strideH)} - ${lit(g.padH)} + c1 * ${lit(g.dilationH)};
  const ix = c5 * ${lit(g.strideW)} - ${lit(g.padW)} + c2 * ${lit(g.dilationW)};
  if (iy < 0.0 || iy >= ${lit(g.h)} || ix < 0.0 || ix >= ${lit(g.w)}) { return 0.0; }
  return x[((c3 * ${lit(g.c)} + c0) * ${lit(g.h)} + iy) * ${lit(g.w)} + ix];`;
    return this.run('im2col', kernel(['x'], body), g.c * g.kh * g.kw * P, [x]);
  }

  /** The adjoint of im2col, gather-style: each input pixel sums the columns that read it. */
  col2im(cols: DataHandle, g: ConvGeometry): DataHandle {
    const P = g.n * g.oh * g.ow;
    const body = `${unravel([g.n, g.c, g.h, g.w])}
  let s = 0.0;
  for (let ki = 0; ki < ${g.kh}; ki++) {
    const ty = c2 + ${lit(g.padH)} - ki * ${lit(g.dilationH)};
    const oy = Math.floor((ty + 0.5) / ${lit(g.strideH)});
    if (ty >= 0.0 && oy * ${lit(g.strideH)} === ty && oy < ${lit(g.oh)}) {
      for (let kj = 0; kj < ${g.kw}; kj++) {
        const tx = c3 + ${lit(g.padW)} - kj * ${lit(g.dilationW)};
        const ox = Math.floor((tx + 0.5) / ${lit(g.strideW)});
        if (tx >= 0.0 && ox * ${lit(g.strideW)} === tx && ox < ${lit(g.ow)}) {
          s += cols[((c1 * ${lit(g.kh)} + ki) * ${lit(g.kw)} + kj) * ${lit(P)} + (c0 * ${lit(g.oh)} + oy) * ${lit(g.ow)} + ox];
        }
      }
    }
  }
  return s;`;
    return this.run('col2im', kernel(['cols'], body), g.n * g.c * g.h * g.w, [cols]);
  }
}

/** Creates a gpu.js backend; register it (or use the one `import '@simplex-vq/backend-gpujs'` registers as 'gpujs'). */
export function createGpuJsBackend(opts: GpuJsBackendOptions = {}): GpuJsBackend {
  return new GpuJsBackend(opts);
}


