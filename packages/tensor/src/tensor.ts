/**
 * The Tensor: a shape, a dtype, a handle to data owned by a backend, and for autodiff the node
 * that produced it (`gradFn`) and the gradient accumulated into it (`grad`).
 *
 * Tensors are immutable values: ops return new tensors, and a reshape may share its input's
 * data. The op methods (`x.add(y)`, `x.matmul(w)`, ...) are installed by tensor-methods.ts; the
 * functions behind them live in src/ops, one family a file, forward and gradient side by side.
 */
import type { Backend, DType, DataHandle } from './backend.js';
import type { GradNode } from './autograd.js';
import { ShapeError } from './errors.js';
import { sizeOf, type Shape } from './shape.js';

/** A nested array of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | NestedArray[];

let nextId = 1;

export class Tensor {
  /** A unique id, used by toDot and by error messages. */
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Whether gradients flow to this tensor. Set it on leaves you want `.grad` for. */
  requiresGrad: boolean;
  /** The gradient accumulated by `backward()` (leaves only). */
  grad: Tensor | null = null;
  /** The node that produced this tensor; null for leaves (tensors made by the user). */
  gradFn: GradNode | null = null;
  /** An optional label, shown by toDot. */
  name: string | undefined;
  /** Bumped by every in-place change (assign); backward() checks it against the recorded one. */
  version = 0;

  /** @internal Use `tensor()` and the creation functions. */
  constructor(
    /** @internal */ public handle: DataHandle,
    shape: Shape,
    dtype: DType,
    /** The backend that owns the data. */
    readonly backend: Backend,
    requiresGrad = false,
  ) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.requiresGrad = requiresGrad;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** A copy of the data as a flat typed array. */
  data(): Float32Array | Int32Array {
    const v = this.backend.read(this.handle, this.size, this.dtype);
    return v instanceof Float64Array ? Float32Array.from(v) : v;
  }

  /** The data as nested arrays shaped like the tensor (a number for a scalar). */
  toArray(): NestedArray {
    const flat = this.backend.read(this.handle, this.size, this.dtype);
    const build = (axis: number, offset: number): NestedArray => {
      if (axis === this.shape.length) return flat[offset]!;
      const n = this.shape[axis]!;
      const step = sizeOf(this.shape.slice(axis + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(axis + 1, offset + i * step);
      return out;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError('item', `tensor of shape [${this.shape.join(', ')}] has ${this.size} elements, expected 1`);
    return this.backend.read(this.handle, 1, this.dtype)[0]!;
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
