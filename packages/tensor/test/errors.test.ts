/**
 * Typed errors: each documented error class is raised, with `op` set and a message naming the
 * op and the shapes (or values) involved.
 */
import { describe, expect, it } from 'vitest';
import {
  AnomalyError, ArgumentError, AutogradError, BackendError, MAX_ELEMENTS, DTypeError, IndexError, ShapeError, TensorError, add, arange, cat, conv1d, conv2d, convTranspose1d, convTranspose2d,
  gather, getBackend, indexAdd, indexSelect, listBackends, matmul, mm, ones, permute, reshape, scatterAdd, setBackend, stack, tensor, topk,
  zeros, type Tensor,
} from '../src/index.js';

/** Runs fn, asserts it throws `cls` with op `op`, and that the message contains every fragment. */
function expectError(fn: () => unknown, cls: new (...args: never[]) => TensorError, op: string, ...fragments: string[]): TensorError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${cls.name} from ${op}`).toBeInstanceOf(cls);
  const e = err as TensorError;
  expect(e).toBeInstanceOf(TensorError);
  expect(e).toBeInstanceOf(Error);
  expect(e.name).toBe(cls.name);
  expect(e.op).toBe(op);
  expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
  for (const f of fragments) expect(e.message, `message should mention ${f}`).toContain(f);
  return e;
}

const f = (shape: number[]): Tensor => zeros(shape);
const i32 = (values: number[], shape = [values.length]) => tensor(Int32Array.from(values), { shape });

describe('ShapeError', () => {
  it('broadcast mismatch names both shapes', () => {
    expectError(() => add(f([2, 3]), f([4])), ShapeError, 'add', '[2, 3]', '[4]');
    expectError(() => f([2, 3, 4]).mul(f([3, 3, 1])), ShapeError, 'mul', '[2, 3, 4]', '[3, 3, 1]');
    expectError(() => f([2]).where(i32([1, 0, 1]), 0), ShapeError, 'where', '[3]', '[2]');
    expectError(() => f([2, 3]).broadcastTo([3, 3]), ShapeError, 'broadcastTo', '[2, 3]', '[3, 3]');
    expectError(() => f([2, 3]).broadcastTo([3]), ShapeError, 'broadcastTo', '[2, 3]', '[3]');
  });

  it('matmul inner-dimension mismatch names both shapes', () => {
    expectError(() => matmul(f([2, 3]), f([4, 5])), ShapeError, 'matmul', '[2, 3]', '[4, 5]');
    expectError(() => f([5, 2, 3]).matmul(f([5, 2, 3])), ShapeError, 'matmul', '[5, 2, 3]');
    expectError(() => matmul(f([3]), f([4])), ShapeError, 'matmul', '[1, 3]', '[4, 1]');
    expectError(() => mm(f([3, 2]), f([3, 4]), false, true), ShapeError, 'matmul', '[3, 2]', '[3, 4]');
    expectError(() => matmul(f([2, 2, 3]), f([3, 3, 4])), ShapeError, 'matmul', '[2]', '[3]'); // batch axes
    expectError(() => matmul(f([]), f([3])), ShapeError, 'matmul', '[]');
  });

  it('bad reshape names the shapes', () => {
    expectError(() => reshape(f([2, 3]), [4]), ShapeError, 'reshape', '[2, 3]', '[4]');
    expectError(() => f([2, 3]).reshape([-1, 4]), ShapeError, 'reshape', '[2, 3]', '[-1, 4]');
    expectError(() => f([2, 3]).reshape([-1, -1]), ShapeError, 'reshape', '[-1, -1]');
  });

  it('bad permute names the permutation and the shape', () => {
    expectError(() => permute(f([2, 3, 4]), [0, 0, 1]), ShapeError, 'permute', '[0,0,1]', '[2, 3, 4]');
    expectError(() => f([2, 3]).permute([1]), ShapeError, 'permute', '[1]', '[2, 3]');
    expectError(() => f([2, 3]).permute([0, 2]), ShapeError, 'permute', 'axis 2');
  });

  it('conv channel mismatch names the shapes', () => {
    expectError(() => conv2d(f([1, 3, 5, 5]), f([4, 2, 3, 3])), ShapeError, 'conv2d', '[1, 3, 5, 5]', '[4, 2, 3, 3]');
    expectError(() => conv2d(f([1, 4, 5, 5]), f([3, 2, 3, 3]), null, { groups: 2 }), ShapeError, 'conv2d', 'groups = 2');
    expectError(() => conv2d(f([1, 1, 2, 2]), f([1, 1, 3, 3])), ShapeError, 'conv2d', '[1, 1, 2, 2]', '3×3');
    expectError(() => conv2d(f([1, 2, 5, 5]), f([4, 2, 3, 3]), f([3])), ShapeError, 'conv2d', '[4]', '[3]');
    expectError(() => conv2d(f([2, 5, 5]), f([4, 2, 3, 3])), ShapeError, 'conv2d', '[2, 5, 5]');
    // conv1d runs as a conv2d of height 1, but its errors name conv1d and the caller's shapes.
    expectError(() => conv1d(f([1, 3, 8]), f([2, 2, 3])), ShapeError, 'conv1d', '[1, 3, 8]', '[2, 2, 3]', 'input channels');
    expectError(() => conv1d(f([1, 2, 2]), f([2, 2, 5])), ShapeError, 'conv1d', '[1, 2, 2]', '[2, 2, 5]', 'too small');
    expectError(() => conv1d(i32([1, 1], [1, 1, 2]), f([1, 1, 1])), DTypeError, 'conv1d', 'int32');
    expectError(() => convTranspose1d(f([1, 3, 4]), f([2, 3, 3])), ShapeError, 'convTranspose1d', '[1, 3, 4]', '[2, 3, 3]');
    expectError(() => convTranspose2d(f([1, 3, 4, 4]), f([2, 3, 3, 3])), ShapeError, 'convTranspose2d', '[1, 3, 4, 4]', '[2, 3, 3, 3]');
    expectError(() => convTranspose2d(f([1, 2, 4, 4]), f([2, 3, 3, 3]), null, { stride: 2, outputPadding: 2 }), ShapeError, 'convTranspose2d', 'outputPadding');
  });

  it('cat / stack mismatch names the shapes', () => {
    expectError(() => cat([f([2, 3]), f([2, 4])], 0), ShapeError, 'cat', '[2, 3]', '[2, 4]');
    expectError(() => cat([f([2, 3]), f([2, 3, 1])], 1), ShapeError, 'cat', '[2, 3]', '[2, 3, 1]');
    expectError(() => cat([], 0), ShapeError, 'cat');
    expectError(() => stack([f([2]), f([3])]), ShapeError, 'stack', '[2]', '[3]');
  });

  it('axis out of range, bad slice step, bad pads, invalid creation shapes', () => {
    expectError(() => f([2, 3]).sum(2), ShapeError, 'sum', 'axis 2', 'rank 2');
    expectError(() => f([2, 3]).softmax(-3), ShapeError, 'softmax', 'axis -3');
    expectError(() => f([2, 3]).sum([0, 0]), ShapeError, 'sum', 'repeated axis');
    expectError(() => f([4]).slice(0, 0, 4, 0), ShapeError, 'slice', 'step');
    expectError(() => f([4]).pad([1]), ShapeError, 'pad', '[1]');
    expectError(() => f([4]).pad([1, -1]), ShapeError, 'pad');
    expectError(() => zeros([2, -1]), ShapeError, 'full', '[2, -1]');
    expectError(() => tensor(new Float32Array(5), { shape: [2, 3] }), ShapeError, 'tensor', '[2, 3]', '5');
  });

  it('indexing ops check index and source shapes', () => {
    expectError(() => gather(f([2, 3]), 1, i32([0, 1, 2], [3, 1])), ShapeError, 'gather', '[3, 1]', '[2, 3]');
    expectError(() => scatterAdd(f([2, 3]), 1, i32([0, 1], [2, 1]), f([2, 2])), ShapeError, 'scatterAdd', '[2, 2]', '[2, 1]');
    expectError(() => indexSelect(f([2, 3]), 1, i32([0, 1], [2, 1])), ShapeError, 'indexSelect', '[2, 1]');
    expectError(() => indexAdd(f([2, 3]), 1, i32([0, 1]), f([2, 3])), ShapeError, 'indexAdd', '3', '2');
  });
});

describe('DTypeError', () => {
  it('float-only ops refuse int32 tensors, naming the dtype and shape', () => {
    const x = i32([1, 2, 3, 4], [2, 2]);
    expectError(() => x.log(), DTypeError, 'log', 'int32', '[2, 2]');
    expectError(() => x.exp(), DTypeError, 'exp', 'int32');
    expectError(() => x.mean(), DTypeError, 'mean', 'int32');
    expectError(() => x.softmax(), DTypeError, 'softmax', 'int32');
    expectError(() => matmul(x, x), DTypeError, 'matmul', 'int32');
    expectError(() => conv2d(i32([1], [1, 1, 1, 1]), f([1, 1, 1, 1])), DTypeError, 'conv2d', 'int32');
    // The same ops accept the converted tensor.
    expect(x.float().log().dtype).toBe('float32');
  });

  it('indices must be int32', () => {
    expectError(() => gather(f([2, 3]), 1, tensor([[0], [1]])), DTypeError, 'gather', 'float32', '[2, 1]');
    expectError(() => indexSelect(f([2, 3]), 0, tensor([0])), DTypeError, 'indexSelect', 'float32');
    expectError(() => scatterAdd(f([2]), 0, tensor([0]), f([1])), DTypeError, 'scatterAdd', 'float32');
    expectError(() => tensor([1, 0]).oneHot(2), DTypeError, 'oneHot', 'float32');
  });
});

describe('IndexError', () => {
  it('out-of-range gather / scatterAdd / indexSelect / indexAdd / oneHot indices name the index and the size', () => {
    expectError(() => gather(f([2, 3]), 1, i32([0, 3], [2, 1])), IndexError, 'gather', 'index 3', 'size 3');
    expectError(() => gather(f([2, 3]), 0, i32([-1, 0, 0], [1, 3])), IndexError, 'gather', 'index -1', 'size 2');
    expectError(() => scatterAdd(f([2]), 0, i32([2]), f([1])), IndexError, 'scatterAdd', 'index 2', 'size 2');
    expectError(() => indexSelect(f([2, 3]), 1, i32([0, 5])), IndexError, 'indexSelect', 'index 5', 'size 3');
    expectError(() => indexAdd(f([2, 3]), 0, i32([2]), f([1, 3])), IndexError, 'indexAdd', 'index 2', 'size 2');
    expectError(() => i32([0, 3]).oneHot(3), IndexError, 'oneHot', 'class 3', 'numClasses = 3');
    expectError(() => i32([-1]).oneHot(3), IndexError, 'oneHot', 'class -1');
  });

  it('topk with k larger than the axis names k, the size and the shape', () => {
    expectError(() => topk(f([2, 4]), 5), IndexError, 'topk', 'k = 5', 'size 4', '[2, 4]');
    expectError(() => topk(f([2, 4]), 3, 0), IndexError, 'topk', 'k = 3', 'size 2');
    expectError(() => f([3]).topk(-1), IndexError, 'topk', 'k = -1');
  });

  it('reducing an empty axis with max', () => {
    expectError(() => zeros([0, 2]).max(0), IndexError, 'max', 'empty');
    expect(zeros([0, 2]).sum(0).toArray()).toEqual([0, 0]);
  });
});

describe('BackendError', () => {
  it("setBackend('nope') names the backend and the registered ones, and leaves the current one", () => {
    const before = getBackend();
    expectError(() => setBackend('nope'), BackendError, 'setBackend', "'nope'", 'cpu');
    expect(getBackend()).toBe(before);
    expect(listBackends()).toContain('cpu');
    expect(ones([2]).toArray()).toEqual([1, 1]);
  });
});

describe('error classes', () => {
  it('AutogradError and AnomalyError are TensorErrors with op (and phase)', () => {
    const a = new AnomalyError('log', 'forward', 'x');
    expect(a).toBeInstanceOf(TensorError);
    expect(a.phase).toBe('forward');
    expect(a.message).toBe('log: x');
    expect(new AutogradError('backward', 'y').name).toBe('AutogradError');
    // A plain arange is fine; a zero step is a ShapeError from arange.
    expect(arange(3).toArray()).toEqual([0, 1, 2]);
    expectError(() => arange(0, 3, 0), ShapeError, 'arange', 'step');
  });
});

describe('arguments are checked at the op boundary (issue 13)', () => {
  const f = (shape: number[]) => zeros(shape);

  it('sizes past the element limit are refused before anything is allocated', () => {
    expectError(() => arange(0, 1, 1e-12), ShapeError, 'arange', '1000000000000 elements', '2^30');
    expectError(() => zeros([1e6, 1e6]), ShapeError, 'full', '1000000000000 elements');
    expectError(() => f([2]).pad([1e12, 0]), ShapeError, 'pad', 'padded shape');
    expectError(() => tensor(Int32Array.from([0, 1, 2]), { shape: [3] }).oneHot(1e12), ShapeError, 'oneHot', 'classes');
    expect(MAX_ELEMENTS).toBe(2 ** 30);
  });

  it('fractional, NaN and negative sizes', () => {
    expectError(() => zeros([2, 1.5]), ShapeError, 'full', '[2, 1.5]');
    expectError(() => zeros([NaN]), ShapeError, 'full', 'NaN');
    expectError(() => f([6]).reshape([2, 2.5]), ShapeError, 'reshape');
    expectError(() => f([4]).pad([1, -1]), ShapeError, 'pad');
    expectError(() => f([3]).expand([-1, 3]), ShapeError, 'expand', 'new axis');
    expectError(() => f([1, 1, 2, 2]).slice(0, 0, 1, 0), ShapeError, 'slice', 'step');
  });

  it('a transposed convolution with no output, 0-d inputs where an axis is needed', () => {
    expectError(() => convTranspose2d(f([1, 1, 1, 1]), f([1, 1, 1, 1]), null, { padding: 1 }), ShapeError, 'convTranspose2d', 'output would be');
    expectError(() => cat([tensor(1), tensor(2)], 0), ShapeError, 'cat', '0-d', 'stack');
    expectError(() => gather(tensor(1), 0, tensor(Int32Array.from([0]), { shape: [] })), ShapeError, 'gather', '0-d');
  });

  it('values of the wrong JavaScript type are an ArgumentError naming what was given', () => {
    expectError(() => zeros('3' as unknown as number[]), ArgumentError, 'full', "'3'");
    expectError(() => f([2]).add(null as unknown as number), ArgumentError, 'add', 'null');
    expectError(() => f([2]).mul('2' as unknown as number), ArgumentError, 'mul', "'2'");
    expectError(() => f([2, 2]).matmul({} as unknown as Tensor), ArgumentError, 'matmul', 'an Object');
    expectError(() => f([2, 2]).reshape(null as unknown as number[]), ArgumentError, 'reshape', 'null');
    expectError(() => f([2, 2]).permute(undefined as unknown as number[]), ArgumentError, 'permute', 'undefined');
    expectError(() => cat([f([2]), 'x' as unknown as Tensor]), ArgumentError, 'cat', 'tensor 1', "'x'");
    expectError(() => f([2, 3]).gather(1, null as unknown as Tensor), ArgumentError, 'gather', 'indices');
    expectError(() => conv2d(f([1, 1, 3, 3]), f([1, 1, 2, 2]), null, { stride: '2' as unknown as number }), ArgumentError, 'conv2d', 'stride');
    expectError(() => f([2]).sum('0' as unknown as number), ArgumentError, 'sum', 'axis');
    expectError(() => tensor(undefined as unknown as number[]), ArgumentError, 'tensor', 'undefined');
  });
});
