/**
 * Indexing: gather/scatterAdd (per-element indices, as in PyTorch), indexSelect/indexAdd (one list
 * of indices for a whole axis), topk and oneHot. Reading by index and adding by index are each
 * other's adjoints, so each op's gradient is its partner.
 */
import type { DType } from '../backend.js';
import { checkForward, record } from '../autograd.js';
import { ArgumentError, IndexError, ShapeError, describeValue, fmtShape } from '../errors.js';
import { checkSize, normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, fromHandle, handleOn, requireInt, requireTensor } from './util.js';

/** The indexing ops work along an axis: a 0-d tensor has none. */
function requireAxes(op: string, x: Tensor): void {
  requireTensor(op, x);
  if (x.ndim === 0) throw new ShapeError(op, 'a 0-d tensor has no axis to index along; unsqueeze it first');
}

/** [outer, len, inner] around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

function checkSameOutside(op: string, a: readonly number[], b: readonly number[], axis: number, what: string): void {
  if (a.length !== b.length || a.some((d, i) => i !== axis && d !== b[i])) {
    throw new ShapeError(op, `${what} ${fmtShape(b)} must match ${fmtShape(a)} on every axis but ${axis}`);
  }
}

/**
 * torch.gather: out[…, j, …] = x[…, index[…, j, …], …] along `axis`; index has x's shape except
 * along `axis`. ∂: the gradient is added back where it was read (scatterAdd).
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  requireAxes('gather', x);
  requireInt('gather', index);
  const a = normalizeAxis('gather', axis, x.ndim);
  checkSameOutside('gather', x.shape, index.shape, a, 'index of shape');
  const [outer, len, inner] = around(x.shape, a);
  const h = x.backend.gather(x.handle, outer, len, inner, handleOn(index, x.backend), index.shape[a]!, x.dtype);
  const y = fromHandle(h, index.shape, x.dtype, x.backend);
  return record('gather', y, [x], (g) => [scatterAdd(x.zerosLike(), a, index, g)]);
}

/**
 * torch.scatter_add: a copy of x with src[…, j, …] added at x[…, index[…, j, …], …].
 * ∂x = g; ∂src = gather(g, index).
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  requireAxes('scatterAdd', x);
  requireInt('scatterAdd', index);
  requireTensor('scatterAdd', src, 'src');
  const a = normalizeAxis('scatterAdd', axis, x.ndim);
  checkSameOutside('scatterAdd', x.shape, index.shape, a, 'index of shape');
  if (src.shape.length !== index.shape.length || src.shape.some((d, i) => d !== index.shape[i])) {
    throw new ShapeError('scatterAdd', `src ${fmtShape(src.shape)} must have the shape of index ${fmtShape(index.shape)}`);
  }
  const [outer, len, inner] = around(x.shape, a);
  const b = backendOf(x, src);
  const h = b.scatterAdd(handleOn(x, b), outer, len, inner, handleOn(index, b), handleOn(src, b), index.shape[a]!, x.dtype);
  const y = fromHandle(h, x.shape, x.dtype, b);
  return record('scatterAdd', y, [x, src], (g) => [g, gather(g, a, index)]);
}

/** torch.index_select: the entries `index` (1-D int32) along `axis`. ∂: indexAdd of the gradient. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  requireAxes('indexSelect', x);
  requireInt('indexSelect', index);
  if (index.ndim !== 1) throw new ShapeError('indexSelect', `index must be 1-D, got ${fmtShape(index.shape)}`);
  const a = normalizeAxis('indexSelect', axis, x.ndim);
  const [outer, len, inner] = around(x.shape, a);
  const n = index.shape[0]!;
  const h = x.backend.indexSelect(x.handle, outer, len, inner, handleOn(index, x.backend), n, x.dtype);
  const y = fromHandle(h, x.shape.map((d, i) => (i === a ? n : d)), x.dtype, x.backend);
  return record('indexSelect', y, [x], (g) => [indexAdd(x.zerosLike(), a, index, g)]);
}

/** torch.index_add: a copy of x with src's j-th slice along `axis` added at index[j]. */
export function indexAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  requireAxes('indexAdd', x);
  requireInt('indexAdd', index);
  requireTensor('indexAdd', src, 'src');
  const a = normalizeAxis('indexAdd', axis, x.ndim);
  if (index.ndim !== 1) throw new ShapeError('indexAdd', `index must be 1-D, got ${fmtShape(index.shape)}`);
  checkSameOutside('indexAdd', x.shape, src.shape, a, 'src of shape');
  if (src.shape[a] !== index.shape[0]) {
    throw new ShapeError('indexAdd', `src has ${src.shape[a]} entries along axis ${a}, index has ${index.shape[0]}`);
  }
  const [outer, len, inner] = around(x.shape, a);
  const b = backendOf(x, src);
  const h = b.indexAdd(handleOn(x, b), outer, len, inner, handleOn(index, b), handleOn(src, b), index.shape[0]!, x.dtype);
  const y = fromHandle(h, x.shape, x.dtype, b);
  return record('indexAdd', y, [x, src], (g) => [g, indexSelect(g, a, index)]);
}

/**
 * The k largest (or smallest) entries along `axis`, sorted, with their int32 positions. Only the
 * values carry a gradient: each selected entry receives its own (selection is held fixed).
 */
export function topk(x: Tensor, k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
  requireAxes('topk', x);
  const a = normalizeAxis('topk', axis, x.ndim);
  const n = x.shape[a]!;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > n) {
    throw new IndexError('topk', `k = ${describeValue(k)} is out of range for an axis of size ${n} (shape ${fmtShape(x.shape)})`);
  }
  // The backend reads along the axis in place: [outer, n, inner] around it.
  const [outer, , inner] = around(x.shape, a);
  const { values, indices } = x.backend.topk(x.handle, outer, n, inner, k, largest, x.dtype);
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const v = fromHandle(values, shape, x.dtype, x.backend);
  const idx = fromHandle(indices, shape, 'int32', x.backend);
  checkForward('topk', v, [x]);
  const selected = idx;
  const out = record('topk', v, [x], (g) => [scatterAdd(x.zerosLike(), a, selected, g)]);
  return { values: out, indices: idx };
}

/** One-hot rows: out[..., c] = 1 where indices[...] = c. int32 by default, as in PyTorch. */
export function oneHot(indices: Tensor, numClasses: number, dtype: DType = 'int32'): Tensor {
  requireInt('oneHot', indices);
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 0) {
    throw new ArgumentError('oneHot', `numClasses must be a non-negative integer, got ${describeValue(numClasses)}`);
  }
  checkSize('oneHot', indices.size * numClasses, `${indices.size} rows of ${numClasses} classes`);
  const b = indices.backend;
  const flat = b.read(indices.handle, indices.size, 'int32');
  const out = new Int32Array(indices.size * numClasses);
  for (let i = 0; i < flat.length; i++) {
    const c = flat[i]!;
    if (c < 0 || c >= numClasses) throw new IndexError('oneHot', `class ${c} is out of range for numClasses = ${numClasses}`);
    out[i * numClasses + c] = 1;
  }
  const y = fromHandle(b.fromArray(out, 'int32'), [...indices.shape, numClasses], 'int32', b);
  return dtype === 'int32' ? y : y.float();
}
