/**
 * The op methods of Tensor (`x.add(y)`, `x.sum(1)`, ...), each a one-line call of the function in
 * src/ops. Kept apart from tensor.ts so the class stays small and the op files can use Tensor
 * without an import cycle at load time.
 */
import type { DType } from './backend.js';
import { backward as runBackward, type BackwardOptions } from './autograd.js';
import { DTypeError, ShapeError, fmtShape } from './errors.js';
import * as B from './ops/binary.js';
import * as I from './ops/indexing.js';
import * as M from './ops/matmul.js';
import * as R from './ops/reduce.js';
import * as S from './ops/shape-ops.js';
import * as SM from './ops/softmax.js';
import * as U from './ops/unary.js';
import { fromHandle, type TensorLike } from './ops/util.js';
import { shapesEqual } from './shape.js';
import { Tensor } from './tensor.js';

declare module './tensor.js' {
  interface Tensor {
    // autodiff
    /** Accumulates gradients of this tensor into the leaves' `.grad`; see autograd.ts. */
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    /** The same data, cut from the graph (no gradient flows through it). */
    detach(): Tensor;
    /** Marks a leaf as requiring gradients; returns it. */
    requiresGrad_(flag?: boolean): Tensor;
    /** Replaces the data of a leaf in place (optimizer updates); not recorded. */
    assign(values: Tensor): Tensor;
    clone(): Tensor;
    zerosLike(): Tensor;
    onesLike(): Tensor;
    // dtype
    float(): Tensor;
    int(): Tensor;
    to(dtype: DType): Tensor;
    // elementwise
    add(o: TensorLike): Tensor;
    sub(o: TensorLike): Tensor;
    mul(o: TensorLike): Tensor;
    div(o: TensorLike): Tensor;
    pow(o: TensorLike): Tensor;
    maximum(o: TensorLike): Tensor;
    minimum(o: TensorLike): Tensor;
    eq(o: TensorLike): Tensor;
    ne(o: TensorLike): Tensor;
    lt(o: TensorLike): Tensor;
    le(o: TensorLike): Tensor;
    gt(o: TensorLike): Tensor;
    ge(o: TensorLike): Tensor;
    /** torch semantics: this where cond is non-zero, else other. */
    where(cond: Tensor, other: TensorLike): Tensor;
    clamp(min?: number, max?: number): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    sign(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    erf(): Tensor;
    gelu(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    floor(): Tensor;
    isFinite(): Tensor;
    // reductions
    sum(axis?: R.Axes, keepdim?: boolean): Tensor;
    mean(axis?: R.Axes, keepdim?: boolean): Tensor;
    max(axis?: R.Axes, keepdim?: boolean): Tensor;
    min(axis?: R.Axes, keepdim?: boolean): Tensor;
    var(axis?: R.Axes, opts?: { correction?: number; keepdim?: boolean }): Tensor;
    logsumexp(axis?: R.Axes, keepdim?: boolean): Tensor;
    argmax(axis?: number, keepdim?: boolean): Tensor;
    argmin(axis?: number, keepdim?: boolean): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    // linear algebra
    matmul(o: Tensor): Tensor;
    // shape
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    flatten(start?: number, end?: number): Tensor;
    squeeze(axis?: number): Tensor;
    unsqueeze(axis: number): Tensor;
    permute(perm: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    /** Transpose of the last two axes. */
    readonly mT: Tensor;
    broadcastTo(shape: readonly number[]): Tensor;
    expand(shape: readonly number[]): Tensor;
    slice(axis: number, start?: number, end?: number, step?: number): Tensor;
    pad(pads: readonly number[], value?: number): Tensor;
    // indexing
    gather(axis: number, index: Tensor): Tensor;
    scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor;
    indexSelect(axis: number, index: Tensor): Tensor;
    indexAdd(axis: number, index: Tensor, src: Tensor): Tensor;
    topk(k: number, axis?: number, largest?: boolean): { values: Tensor; indices: Tensor };
    oneHot(numClasses: number, dtype?: DType): Tensor;
  }
}

const P = Tensor.prototype;

P.backward = function (grad, opts = {}) {
  runBackward(this, grad, opts, (t) => t.onesLike(), B.add);
};
P.detach = function () {
  return fromHandle(this.handle, this.shape, this.dtype, this.backend);
};
P.requiresGrad_ = function (flag = true) {
  if (!this.isLeaf) throw new DTypeError('requiresGrad_', 'only leaves can change requiresGrad; use detach() first');
  if (flag && this.dtype !== 'float32') throw new DTypeError('requiresGrad_', `only float32 tensors can require gradients, got ${this.dtype}`);
  this.requiresGrad = flag;
  return this;
};
P.assign = function (values) {
  if (!shapesEqual(values.shape, this.shape) || values.dtype !== this.dtype) {
    throw new ShapeError('assign', `cannot assign ${values.dtype} ${fmtShape(values.shape)} to ${this.dtype} ${fmtShape(this.shape)}`);
  }
  this.handle = values.backend === this.backend ? values.handle : this.backend.fromArray(values.data(), values.dtype);
  this.version++;
  return this;
};
P.clone = function () {
  return this.add(0);
};
P.zerosLike = function () {
  return fromHandle(this.backend.full(this.size, 0, this.dtype), this.shape, this.dtype, this.backend);
};
P.onesLike = function () {
  return fromHandle(this.backend.full(this.size, 1, this.dtype), this.shape, this.dtype, this.backend);
};
P.float = function () {
  return S.cast(this, 'float32');
};
P.int = function () {
  return S.cast(this, 'int32');
};
P.to = function (dtype) {
  return S.cast(this, dtype);
};

P.add = function (o) { return B.add(this, o); };
P.sub = function (o) { return B.sub(this, o); };
P.mul = function (o) { return B.mul(this, o); };
P.div = function (o) { return B.div(this, o); };
P.pow = function (o) { return B.pow(this, o); };
P.maximum = function (o) { return B.maximum(this, o); };
P.minimum = function (o) { return B.minimum(this, o); };
P.eq = function (o) { return B.eq(this, o); };
P.ne = function (o) { return B.ne(this, o); };
P.lt = function (o) { return B.lt(this, o); };
P.le = function (o) { return B.le(this, o); };
P.gt = function (o) { return B.gt(this, o); };
P.ge = function (o) { return B.ge(this, o); };
P.where = function (cond, other) { return B.where(cond, this, other); };
P.clamp = function (min, max) { return B.clamp(this, min, max); };

P.neg = function () { return U.neg(this); };
P.exp = function () { return U.exp(this); };
P.log = function () { return U.log(this); };
P.sqrt = function () { return U.sqrt(this); };
P.abs = function () { return U.abs(this); };
P.sign = function () { return U.sign(this); };
P.relu = function () { return U.relu(this); };
P.sigmoid = function () { return U.sigmoid(this); };
P.tanh = function () { return U.tanh(this); };
P.erf = function () { return U.erf(this); };
P.gelu = function () { return U.gelu(this); };
P.sin = function () { return U.sin(this); };
P.cos = function () { return U.cos(this); };
P.square = function () { return U.square(this); };
P.reciprocal = function () { return U.reciprocal(this); };
P.floor = function () { return U.floor(this); };
P.isFinite = function () { return U.isFinite(this); };

P.sum = function (axis, keepdim) { return R.sum(this, axis, keepdim); };
P.mean = function (axis, keepdim) { return R.mean(this, axis, keepdim); };
P.max = function (axis, keepdim) { return R.max(this, axis, keepdim); };
P.min = function (axis, keepdim) { return R.min(this, axis, keepdim); };
P.var = function (axis, opts) { return R.variance(this, axis, opts); };
P.logsumexp = function (axis, keepdim) { return R.logsumexp(this, axis, keepdim); };
P.argmax = function (axis, keepdim) { return R.argmax(this, axis, keepdim); };
P.argmin = function (axis, keepdim) { return R.argmin(this, axis, keepdim); };
P.softmax = function (axis) { return SM.softmax(this, axis); };
P.logSoftmax = function (axis) { return SM.logSoftmax(this, axis); };

P.matmul = function (o) { return M.matmul(this, o); };

P.reshape = function (shape) { return S.reshape(this, shape); };
P.view = function (shape) { return S.reshape(this, shape); };
P.flatten = function (start, end) { return S.flatten(this, start, end); };
P.squeeze = function (axis) { return S.squeeze(this, axis); };
P.unsqueeze = function (axis) { return S.unsqueeze(this, axis); };
P.permute = function (perm) { return S.permute(this, perm); };
P.transpose = function (d0, d1) { return S.transpose(this, d0, d1); };
Object.defineProperty(P, 'mT', {
  get(this: Tensor) {
    return S.transpose(this, -2, -1);
  },
});
P.broadcastTo = function (shape) { return S.broadcastTo(this, shape); };
P.expand = function (shape) { return S.expand(this, shape); };
P.slice = function (axis, start, end, step) { return S.slice(this, axis, start, end, step); };
P.pad = function (pads, value) { return S.pad(this, pads, value); };

P.gather = function (axis, index) { return I.gather(this, axis, index); };
P.scatterAdd = function (axis, index, src) { return I.scatterAdd(this, axis, index, src); };
P.indexSelect = function (axis, index) { return I.indexSelect(this, axis, index); };
P.indexAdd = function (axis, index, src) { return I.indexAdd(this, axis, index, src); };
P.topk = function (k, axis, largest) { return I.topk(this, k, axis, largest); };
P.oneHot = function (numClasses, dtype) { return I.oneHot(this, numClasses, dtype); };

