/**
 * The Backend interface: the small set of primitives every backend implements, and the registry
 * that chooses the current one.
 *
 * Ops (src/ops) are written once, above this interface: each op's forward is a few calls of these
 * primitives and its gradient is written with tensor ops, so a backend needs no gradient code.
 * A backend stores tensor data behind opaque handles; the engine only passes them back.
 *
 * Conventions: all data is contiguous and row-major. Reductions and indexing see a tensor as
 * [outer, len, inner] around the axis they work on. Shapes are passed explicitly; a backend never
 * needs to remember them.
 */
import { BackendError } from './errors.js';
import type { Shape } from './shape.js';

export type DType = 'float32' | 'int32';

/** Host-side arrays the engine reads and writes. Float64Array appears only in gradCheck's backend. */
export type HostArray = Float32Array | Int32Array | Float64Array;

/** An opaque reference to data owned by a backend. */
export type DataHandle = unknown;

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sign' | 'relu' | 'sigmoid' | 'tanh' | 'erf' | 'gelu'
  | 'sin' | 'cos' | 'square' | 'reciprocal' | 'floor' | 'isFinite';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/** A matrix product batch: C[b] = op(A[b]) · op(B[b]), with a batch stride of 0 for a shared operand. */
export interface MatmulSpec {
  batch: number;
  m: number;
  k: number;
  n: number;
  /** Elements between consecutive batch entries of A (0: one A shared by the whole batch). */
  aBatchStride: number;
  bBatchStride: number;
  /** A is stored as [k, m] (its transpose is used). */
  transA: boolean;
  /** B is stored as [n, k]. */
  transB: boolean;
}

/**
 * The geometry of a 2-D convolution. `im2col` turns x [N, C, H, W] into columns
 * [C·kh·kw, N·oh·ow]; `col2im` is its adjoint (it sums overlapping patches back).
 */
export interface ConvGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  oh: number;
  ow: number;
}

export interface Backend {
  readonly name: string;

  // --- memory -------------------------------------------------------------------------------
  /** Copies host values into a new handle of `dtype`. */
  fromArray(values: ArrayLike<number>, dtype: DType): DataHandle;
  /** Copies a handle's values to the host: Float32Array for float32 (Float64Array on a float64 backend), Int32Array for int32. */
  read(x: DataHandle, size: number, dtype: DType): HostArray;
  full(size: number, value: number, dtype: DType): DataHandle;
  cast(x: DataHandle, size: number, from: DType, to: DType): DataHandle;
  /**
   * Optional: the caller promises that no tensor will read x again; the backend may free or reuse
   * its storage at once (device memory on gpu.js; the CPU backend keeps it for the next tensor of
   * the same size).
   */
  dispose?(x: DataHandle): void;
  /**
   * Optional: runs fn and returns its result with the handles allocated while it ran. With
   * `dispose`, it lets backward() give back the gradients and temporaries it made and no longer
   * needs (autograd.ts). Calls do not nest: an inner call reports no handles.
   */
  trackAllocations?<T>(fn: () => T): { result: T; allocated: DataHandle[] };

  // --- fused kernels (optional: without them the ops compose the primitives) ----------------
  /**
   * softmax (log = false) or logSoftmax (log = true) of each row of a [rows, len] float matrix in
   * one pass over the row, giving exactly the values of the ops' composition — max, sub, exp, sum,
   * then div (softmax) or log and sub (logSoftmax) — each intermediate rounded to the storage as
   * the composition would store it. Returns y and p = softmax(x), what the gradient needs (for
   * softmax, p is y).
   */
  softmaxRows?(x: DataHandle, rows: number, len: number, log: boolean): { y: DataHandle; p: DataHandle };
  /**
   * The gradient of softmaxRows for the output gradient g, with the values of the composition:
   * g − p·Σg (log) or p ⊙ (g − Σ g⊙p) (softmax), Σ along each row.
   */
  softmaxRowsBackward?(g: DataHandle, p: DataHandle, rows: number, len: number, log: boolean): DataHandle;
  /**
   * The product of a convolution written in its output layout: W [o, k] · cols [k, n·p] is
   * [o, n·p]; this returns it as [n, o, p] (NCHW, p = oh·ow), with bias[o] added when given — the
   * values of matmul, then permute, then a broadcast add, in one pass after the product.
   */
  convOutput?(w: DataHandle, cols: DataHandle, bias: DataHandle | null, o: number, k: number, n: number, p: number): DataHandle;

  // --- elementwise --------------------------------------------------------------------------
  unary(op: UnaryOp, x: DataHandle, size: number, dtype: DType): DataHandle;
  /** Broadcasting binary op; comparisons produce int32 0/1. */
  binary(op: BinaryOp, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, dtype: DType): DataHandle;
  /** out = cond ? a : b, broadcasting all three; cond is int32. */
  where(cond: DataHandle, cShape: Shape, a: DataHandle, aShape: Shape, b: DataHandle, bShape: Shape, outShape: Shape, dtype: DType): DataHandle;

  // --- reductions over the middle axis of [outer, len, inner] --------------------------------
  /**
   * Result has outer·inner entries; argmax/argmin give int32 positions along the axis. NaN
   * propagates: the first NaN wins (elementwise.ts states the rules; referenceReduce).
   */
  reduce(op: ReduceOp, x: DataHandle, outer: number, len: number, inner: number, dtype: DType): DataHandle;

  // --- linear algebra -----------------------------------------------------------------------
  matmul(a: DataHandle, b: DataHandle, spec: MatmulSpec): DataHandle;

  // --- movement -----------------------------------------------------------------------------
  permute(x: DataHandle, shape: Shape, perm: readonly number[], dtype: DType): DataHandle;
  broadcastTo(x: DataHandle, shape: Shape, outShape: Shape, dtype: DType): DataHandle;
  /** out[i] = x[begin + i·step] along every axis, out of shape outShape. */
  slice(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, dtype: DType): DataHandle;
  /** The adjoint of slice: a tensor of outShape filled with `fill`, with x written at begin + i·step. Serves pad too. */
  sliceScatter(x: DataHandle, shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape, fill: number, dtype: DType): DataHandle;
  /** Joins [outer, lens[i], inner] blocks along the middle axis. */
  concat(xs: readonly DataHandle[], outer: number, lens: readonly number[], inner: number, dtype: DType): DataHandle;

  // --- indexing along the middle axis of [outer, len, inner] ---------------------------------
  /** torch.gather: index is int32 [outer, idxLen, inner]; out[o, j, i] = x[o, index[o, j, i], i]. */
  gather(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, dtype: DType): DataHandle;
  /** torch.scatter_add: out = base; out[o, index[o, j, i], i] += src[o, j, i]. */
  scatterAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, dtype: DType): DataHandle;
  /** torch.index_select: index is int32 [idxLen]; out[o, j, i] = x[o, index[j], i]. */
  indexSelect(x: DataHandle, outer: number, len: number, inner: number, index: DataHandle, idxLen: number, dtype: DType): DataHandle;
  /** torch.index_add: out = base; out[o, index[j], i] += src[o, j, i]. */
  indexAdd(base: DataHandle, outer: number, len: number, inner: number, index: DataHandle, src: DataHandle, idxLen: number, dtype: DType): DataHandle;
  /**
   * Top k along the middle axis of [outer, len, inner], sorted: values and int32 positions, each
   * [outer, k, inner]. NaN counts as larger than +Inf (first when largest, last when smallest);
   * ties keep the lower index first (elementwise.ts, referenceTopk).
   */
  topk(x: DataHandle, outer: number, len: number, inner: number, k: number, largest: boolean, dtype: DType): { values: DataHandle; indices: DataHandle };

  // --- convolution --------------------------------------------------------------------------
  im2col(x: DataHandle, g: ConvGeometry): DataHandle;
  col2im(cols: DataHandle, g: ConvGeometry): DataHandle;
}

const registry = new Map<string, () => Backend>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;
let currentName = 'cpu';

/** Makes a backend available under `name`. The factory runs the first time it is chosen. */
export function registerBackend(name: string, factory: () => Backend): void {
  registry.set(name, factory);
  instances.delete(name);
}

/** The names of every registered backend. */
export function listBackends(): string[] {
  return [...registry.keys()];
}

function instantiate(name: string): Backend {
  let b = instances.get(name);
  if (!b) {
    const factory = registry.get(name);
    if (!factory) {
      throw new BackendError('setBackend', `no backend named '${name}'; registered: ${listBackends().join(', ') || 'none'}`);
    }
    b = factory();
    instances.set(name, b);
  }
  return b;
}

/** Chooses the backend that new tensors are created on. */
export function setBackend(nameOrBackend: string | Backend): void {
  if (typeof nameOrBackend === 'string') {
    current = instantiate(nameOrBackend);
    currentName = nameOrBackend;
  } else {
    current = nameOrBackend;
    currentName = nameOrBackend.name;
  }
}

/** The current backend (the CPU backend unless `setBackend` chose another). */
export function getBackend(): Backend {
  if (!current) current = instantiate(currentName);
  return current;
}

/** Runs `fn` with `backend` as the current one, then restores the previous. */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const prev = current;
  const prevName = currentName;
  current = backend;
  currentName = backend.name;
  try {
    return fn();
  } finally {
    current = prev;
    currentName = prevName;
  }
}
