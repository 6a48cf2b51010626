/**
 * Storage reuse: CpuBackend's pool of disposed arrays, backward() handing back the gradients and
 * temporaries it made, and tidy(). Reuse must never change a result: every property compares a
 * backend that reuses storage with one that does not (bufferPoolBytes: 0), bit for bit, and checks
 * that gradients the user holds survive later work that reuses storage.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AutogradError, CpuBackend, tensor, tidy, withBackend, type Tensor } from '../src/index.js';

const bits = (t: Tensor | null) => (t === null ? null : Array.from(new Uint32Array(Float32Array.from(t.data()).buffer)));

describe('CpuBackend storage reuse', () => {
  it('a disposed array is handed out again, zeroed, for the next tensor of its length and dtype', () => {
    const be = new CpuBackend({ threads: 1 });
    const a = be.full(8, 3, 'float32') as Float32Array;
    be.dispose(a);
    const before = be.bytesReused;
    const b = be.full(8, 0, 'float32') as Float32Array;
    expect(b).toBe(a);
    expect(Array.from(b)).toEqual(new Array(8).fill(0));
    expect(be.bytesReused - before).toBe(32);
    // Another length or dtype gets a fresh array.
    be.dispose(b);
    expect(be.full(9, 0, 'float32')).not.toBe(b);
    expect(be.full(8, 0, 'int32')).not.toBe(b);
    expect(be.full(8, 0, 'float32')).toBe(b);
  });

  it('disposing twice pools an array once; bufferPoolBytes bounds the pool; 0 turns reuse off', () => {
    const be = new CpuBackend({ threads: 1, bufferPoolBytes: 64 });
    const a = be.full(8, 1, 'float32');
    be.dispose(a);
    be.dispose(a);
    expect(be.full(8, 0, 'float32')).toBe(a);
    expect(be.full(8, 0, 'float32')).not.toBe(a); // it was in the pool once, not twice
    const big = be.full(32, 1, 'float32'); // 128 bytes > 64
    be.dispose(big);
    expect(be.full(32, 0, 'float32')).not.toBe(big);
    const off = new CpuBackend({ threads: 1, bufferPoolBytes: 0 });
    const c = off.full(4, 1, 'float32');
    off.dispose(c);
    expect(off.full(4, 0, 'float32')).not.toBe(c);
    expect(off.bytesReused).toBe(0);
    expect(() => new CpuBackend({ bufferPoolBytes: -1 })).toThrow(/bufferPoolBytes/);
  });

  it('ops that write every element of reused storage leave nothing of its old contents', () => {
    // Storage handed out again is zeroed only for the primitives that need zeros; the others
    // (elementwise, movement, casts) must overwrite all of it. Fill the pool with NaN and compare.
    const ops: Array<[string, () => Tensor]> = [
      ['exp', () => tensor([[1, 2, 3], [4, 5, 6]]).exp()],
      ['add broadcast', () => tensor([[1, 2, 3], [4, 5, 6]]).add(tensor([1, 2, 3]))],
      ['gt', () => tensor([[1, 2, 3], [4, 5, 6]]).gt(3)],
      ['where', () => tensor([[1, 2, 3], [4, 5, 6]]).gt(3).where(tensor([[1, 1, 1], [1, 1, 1]]), tensor([0, 0, 0]))],
      ['permute', () => tensor([[1, 2, 3], [4, 5, 6]]).permute([1, 0])],
      ['broadcastTo', () => tensor([1, 2, 3]).broadcastTo([2, 3])],
      ['slice', () => tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]).slice(1, 0, 6, 2)],
      ['sliceScatter', () => tensor([1, 2, 3]).pad([1, 2])],
      ['cast', () => tensor([[1.5, 2, 3], [4, 5, 6]]).int()],
      ['full', () => tensor([[1, 2, 3], [4, 5, 6]]).zerosLike()],
    ];
    for (const [name, op] of ops) {
      const plain = withBackend(new CpuBackend({ threads: 1, bufferPoolBytes: 0 }), () => op().data());
      const be = new CpuBackend({ threads: 1 });
      for (let i = 0; i < 8; i++) {
        be.dispose(be.fromArray(new Float32Array(plain.length).fill(NaN), 'float32'));
        be.dispose(be.fromArray(new Int32Array(plain.length).fill(-7), 'int32'));
      }
      const got = withBackend(be, () => op().data());
      expect([name, Array.from(got)]).toEqual([name, Array.from(plain)]);
      expect(be.bytesReused).toBeGreaterThan(0);
    }
  });

  it('trackAllocations reports what a function allocated, and nothing from a nested call', () => {
    const be = new CpuBackend({ threads: 1 });
    const { result, allocated } = be.trackAllocations(() => {
      const x = be.full(3, 1, 'float32');
      const inner = be.trackAllocations(() => be.full(2, 0, 'float32'));
      expect(inner.allocated).toEqual([]);
      return [x, inner.result];
    });
    expect(allocated).toEqual(result);
  });
});

// --- backward() with and without reuse -----------------------------------------------------------

/** One step of a random program: an op on earlier values (indices taken modulo their count). */
interface Step {
  op: 'add' | 'mul' | 'sub' | 'self' | 'exp' | 'square' | 'relu' | 'reshape' | 'sumBroadcast' | 'logSoftmax' | 'softmax' | 'matmul' | 'neg' | 'detachMix';
  i: number;
  j: number;
}

const stepArb = fc.record({
  op: fc.constantFrom<Step['op']>('add', 'mul', 'sub', 'self', 'exp', 'square', 'relu', 'reshape', 'sumBroadcast', 'logSoftmax', 'softmax', 'matmul', 'neg', 'detachMix'),
  i: fc.nat(50),
  j: fc.nat(50),
});
const valuesArb = (n: number) => fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });

/**
 * Runs a program on leaves a, b [3, 4] and w [4, 4]: every value is [3, 4]; the loss is a
 * weighted sum of all of them, so gradients fan out and meet. Returns the leaves.
 */
function runProgram(steps: Step[], a: number[], b: number[], w: number[], backwards: number) {
  const A = tensor(Float32Array.from(a), { shape: [3, 4], requiresGrad: true });
  const B = tensor(Float32Array.from(b), { shape: [3, 4], requiresGrad: true });
  const W = tensor(Float32Array.from(w), { shape: [4, 4], requiresGrad: true });
  for (let round = 0; round < backwards; round++) {
    const vals: Tensor[] = [A, B];
    for (const s of steps) {
      const x = vals[s.i % vals.length]!, y = vals[s.j % vals.length]!;
      const v = {
        add: () => x.add(y),
        mul: () => x.mul(y),
        sub: () => x.sub(y),
        self: () => x.add(x), // the same gradient reaches one input twice
        exp: () => x.clamp(-3, 3).exp(),
        square: () => x.square(),
        relu: () => x.relu(),
        reshape: () => x.reshape([4, 3]).reshape([3, 4]), // views share storage
        sumBroadcast: () => x.sum(1, true).add(y), // a [3, 1] gradient broadcast back
        logSoftmax: () => x.logSoftmax(-1),
        softmax: () => x.softmax(0),
        matmul: () => x.matmul(W),
        neg: () => x.neg(),
        detachMix: () => x.detach().mul(y),
      }[s.op]();
      vals.push(v);
    }
    let loss = vals[0]!.sum();
    vals.slice(1).forEach((v, k) => (loss = loss.add(v.mul(1 / (k + 2)).sum())));
    loss.backward();
  }
  return [A, B, W];
}

describe('backward() hands back the gradients it is done with', () => {
  it('leaf gradients are the same, bit for bit, with and without reuse, and survive later work', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), valuesArb(12), valuesArb(12), valuesArb(16), fc.integer({ min: 1, max: 2 }), (steps, a, b, w, backwards) => {
        const pooled = new CpuBackend({ threads: 1 });
        const plain = new CpuBackend({ threads: 1, bufferPoolBytes: 0 });
        const withReuse = withBackend(pooled, () => runProgram(steps, a, b, w, backwards));
        const without = withBackend(plain, () => runProgram(steps, a, b, w, backwards));
        const held = withReuse.map((t) => bits(t.grad));
        expect(held).toEqual(without.map((t) => bits(t.grad)));
        // More work on the same backend, reusing whatever the first program gave back: the
        // gradients the user holds must not change.
        withBackend(pooled, () => runProgram(steps, b, a, w, 1));
        expect(withReuse.map((t) => bits(t.grad))).toEqual(held);
      }),
      { numRuns: 150 },
    );
  });

  it('gives back storage: a second training-like step reuses what the first one released', () => {
    const be = new CpuBackend({ threads: 1 });
    withBackend(be, () => {
      const values = Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i));
      for (let i = 0; i < 2; i++) {
        const x = tensor(values, { shape: [64, 32], requiresGrad: true });
        x.mul(2).exp().logSoftmax(-1).square().sum().backward();
      }
    });
    expect(be.bytesReused).toBeGreaterThan(0);
  });

  it('a user-given gradient is never given back, and neither is a gradient passed on to a leaf', () => {
    const be = new CpuBackend({ threads: 1 });
    withBackend(be, () => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      const g = tensor([1, 1, 1]);
      x.mul(1).backward(g); // mul's vjp makes a new tensor; g itself stays the user's
      const y = tensor([4, 5, 6], { requiresGrad: true });
      y.add(0).backward(g); // add passes g on to y: y.grad shares g's storage
      tensor([9, 9, 9]).mul(tensor([9, 9, 9])); // allocations that could reuse given-back storage
      expect(Array.from(g.data())).toEqual([1, 1, 1]);
      expect(Array.from(x.grad!.data())).toEqual([1, 1, 1]);
      expect(Array.from(y.grad!.data())).toEqual([1, 1, 1]);
    });
  });
});

describe('tidy', () => {
  it('keeps the tensors it returns (and views of them) and gives back the rest', () => {
    const be = new CpuBackend({ threads: 1 });
    withBackend(be, () => {
      const x = tensor([1, 2, 3, 4]);
      const { kept, view } = tidy(() => {
        const t = x.mul(2).add(1); // the mul is a temporary
        return { kept: t, view: t.reshape([2, 2]) };
      });
      const reusedBefore = be.bytesReused;
      const other = x.mul(10); // same length: takes the temporary's storage
      expect(be.bytesReused - reusedBefore).toBeGreaterThanOrEqual(16); // and the scalar 10 takes the 2 or the 1
      expect(Array.from(kept.data())).toEqual([3, 5, 7, 9]);
      expect(Array.from(view.data())).toEqual([3, 5, 7, 9]);
      expect(Array.from(other.data())).toEqual([10, 20, 30, 40]);
    });
  });

  it('records no graph, and refuses backward() inside it', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tidy(() => x.mul(3));
    expect(y.requiresGrad).toBe(false);
    const loss = x.mul(2).sum();
    expect(() => tidy(() => loss.backward())).toThrow(AutogradError);
    loss.backward(); // still possible outside
    expect(Array.from(x.grad!.data())).toEqual([2, 2]);
  });
});
