/**
 * @simplex-vq/tensor — typed-array tensors with reverse-mode autodiff.
 *
 * Where to read: tensor.ts (the Tensor), autograd.ts (record and backward), ops/*.ts (each op's
 * forward beside its gradient), backend.ts (the primitives a backend implements), cpu/ (the CPU
 * backend and its matmul kernel), elementwise.ts (what every elementwise op computes, NaN and ±Inf
 * included, and the NaN rules of the reductions and topk).
 */
import { registerBackend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';
import './tensor-methods.js';

registerBackend('cpu', () => new CpuBackend());

export { Tensor, type NestedArray } from './tensor.js';
export {
  type Backend,
  type BinaryOp,
  type ConvGeometry,
  type DType,
  type DataHandle,
  type HostArray,
  type MatmulSpec,
  type ReduceOp,
  type UnaryOp,
  getBackend,
  listBackends,
  registerBackend,
  setBackend,
  withBackend,
} from './backend.js';
export { CpuBackend, type CpuBackendOptions } from './cpu/cpu-backend.js';
export { cpuKernelMode } from './cpu/strided-kernel.js';
export {
  BINARY_OPS,
  INT32_OPS,
  INT32_RESULT,
  RANKS_BEFORE,
  SPECIAL_VALUES,
  UNARY_OPS,
  WHERE_OP,
  type BinaryFn,
  type BinaryPredicate,
  type UnaryFn,
  agrees,
  binaryFn,
  reference,
  referenceArgExtreme,
  referenceReduce,
  referenceTopk,
  unaryFn,
} from './elementwise.js';
export { gemmRows } from './cpu/gemm.js';
export { ThreadPool } from './cpu/thread-pool.js';
export { type BackwardOptions, type GradNode, detectAnomaly, enableGrad, isGradEnabled, noGrad, record } from './autograd.js';
export { type RandomOptions, type TensorOptions, arange, full, ones, rand, randint, randn, tensor, zeros } from './creation.js';
export { Generator, defaultGenerator, manualSeed } from './random.js';
export { AnomalyError, ArgumentError, AutogradError, BackendError, DTypeError, IndexError, ShapeError, TensorError, describeValue } from './errors.js';
export { MAX_ELEMENTS, type Shape, broadcastShapes, broadcastStrides, collapseDims, sizeOf, stridesOf } from './shape.js';
export { type GradCheckOptions, type GradCheckResult, gradCheck } from './grad-check.js';
export { toDot } from './to-dot.js';
export { type TensorLike, fromHandle } from './ops/util.js';

export { add, clamp, div, eq, ge, gt, le, lt, maximum, minimum, mul, ne, pow, sub, where } from './ops/binary.js';
export { abs, cos, erf, exp, floor, gelu, isFinite, log, neg, reciprocal, relu, sigmoid, sign, sin, sqrt, square, tanh } from './ops/unary.js';
export { type Axes, argmax, argmin, logsumexp, max, mean, min, sum, variance as var, variance } from './ops/reduce.js';
export { matmul, mm } from './ops/matmul.js';
export { broadcastTo, cast, cat, expand, flatten, pad, permute, reshape, slice, sliceScatter, squeeze, stack, stridedSlice, transpose, unsqueeze } from './ops/shape-ops.js';
export { gather, indexAdd, indexSelect, oneHot, scatterAdd, topk } from './ops/indexing.js';
export { logSoftmax, softmax } from './ops/softmax.js';
export { type TidyResult, tidy } from './tidy.js';
export { type Conv1dOptions, type Conv2dOptions, type ConvTranspose2dOptions, col2im, conv1d, conv2d, convTranspose1d, convTranspose2d, im2col } from './ops/conv.js';
