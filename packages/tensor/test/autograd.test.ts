/**
 * Autodiff semantics: accumulation, fan-out, backward's preconditions, released and retained
 * graphs, noGrad/enableGrad, detach, higher-order gradients, detectAnomaly, toDot, and a check
 * that gradCheck itself rejects a wrong gradient.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AnomalyError, AutogradError, DTypeError, ShapeError, TensorError, detectAnomaly, enableGrad, gradCheck, isGradEnabled, noGrad,
  record, tensor, toDot, type Tensor,
} from '../src/index.js';
import { T, expectClose, shapeArb, specArb } from './helpers.js';

const arr = (t: Tensor | null) => Array.from(t!.data());

/** Runs fn and returns what it threw (failing the test if it did not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return expect.fail('expected an error to be thrown');
}

describe('gradient accumulation', () => {
  it('gradients accumulate into leaves across two backward calls', () => {
    fc.assert(
      fc.property(specArb(shapeArb(1, 2)), (s) => {
        const x = T(s, true);
        x.square().sum().backward();
        const once = arr(x.grad);
        expectClose(once, s.values.map((v) => 2 * Math.fround(v)), 1e-6, 1e-6, 'first backward');
        x.mul(3).sum().backward(); // a second, fresh graph
        expectClose(arr(x.grad), once.map((g) => g + 3), 1e-6, 1e-6, 'accumulated');
      }),
      { numRuns: 15 },
    );
  });

  it('a tensor used twice (or more) gets the sum of the gradients of every use', () => {
    const x = tensor([1, -2, 3], { requiresGrad: true });
    x.add(x).sum().backward();
    expect(arr(x.grad)).toEqual([2, 2, 2]);

    const y = tensor([0.5, 2], { requiresGrad: true });
    // y·3 + y² + exp(y): d/dy = 3 + 2y + exp(y)
    y.mul(3).add(y.square()).add(y.exp()).sum().backward();
    expectClose(arr(y.grad), [0.5, 2].map((v) => 3 + 2 * v + Math.exp(v)), 1e-5, 1e-6);

    // A diamond: a = 2z feeds two branches that meet again.
    const z = tensor([1.5], { requiresGrad: true });
    const a = z.mul(2);
    a.sin().mul(a.square()).sum().backward(); // f = sin(2z)·(2z)²
    const v = 1.5;
    expectClose(arr(z.grad), [2 * Math.cos(2 * v) * (2 * v) ** 2 + Math.sin(2 * v) * 8 * v], 1e-4, 1e-5);
  });

  it('each leaf gets its own grad object, and leaves without requiresGrad get none', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tensor([3, 4], { requiresGrad: true });
    const c = tensor([5, 6]);
    x.add(y).add(c).sum().backward();
    expect(arr(x.grad)).toEqual([1, 1]);
    expect(arr(y.grad)).toEqual([1, 1]);
    expect(x.grad).not.toBe(y.grad);
    expect(c.grad).toBeNull();
  });

  it('backward with an explicit gradient computes the vector-Jacobian product', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const y = x.square(); // non-scalar
    y.backward(tensor([[1, 0, -1], [2, 0.5, 0]]));
    expect(x.grad!.toArray()).toEqual([[2, 0, -6], [16, 5, 0]]);
  });

  it('intermediate tensors get no .grad, only leaves do', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2);
    h.sum().backward();
    expect(h.isLeaf).toBe(false);
    expect(h.grad).toBeNull();
    expect(arr(x.grad)).toEqual([2, 2]);
  });
});

describe('backward preconditions and released graphs', () => {
  it('backward() on a non-scalar without a gradient throws AutogradError naming the shape', () => {
    const y = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true }).mul(2);
    const e = thrown(() => y.backward());
    expect(e).toBeInstanceOf(AutogradError);
    expect(e).toBeInstanceOf(TensorError);
    expect((e as AutogradError).message).toContain('[2, 3]');
    expect((e as AutogradError).message).toContain('non-scalar');
  });

  it('backward() on a tensor that does not require grad throws AutogradError', () => {
    const e = thrown(() => tensor([1, 2]).sum().backward());
    expect(e).toBeInstanceOf(AutogradError);
    expect((e as Error).message).toContain('does not require grad');
  });

  it('a gradient of the wrong shape throws ShapeError', () => {
    const y = tensor([1, 2, 3], { requiresGrad: true }).mul(2);
    const e = thrown(() => y.backward(tensor([1, 1])));
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as Error).message).toContain('[2]');
    expect((e as Error).message).toContain('[3]');
  });

  it('a second backward through a released graph throws; retainGraph allows it', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.square().sum();
    y.backward();
    const e = thrown(() => y.backward());
    expect(e).toBeInstanceOf(AutogradError);
    expect((e as Error).message).toMatch(/released/);
    expect((e as Error).message).toContain('retainGraph');

    const x2 = tensor([1, 2], { requiresGrad: true });
    const y2 = x2.square().sum();
    y2.backward(undefined, { retainGraph: true });
    y2.backward();
    expect(arr(x2.grad)).toEqual([4, 8]); // 2·2x
    // The second call did not retain it.
    expect(() => y2.backward()).toThrow(AutogradError);
  });

  it('a shared subgraph released by one backward cannot be used by another', () => {
    const x = tensor([3], { requiresGrad: true });
    const h = x.exp();
    h.mul(2).sum().backward();
    expect(() => h.mul(3).sum().backward()).toThrow(AutogradError);
  });

  it('modifying an input in place (assign) after it was used makes backward throw', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const y = w.square().sum();
    w.assign(tensor([5, 5]));
    const e = thrown(() => y.backward());
    expect(e).toBeInstanceOf(AutogradError);
    expect((e as Error).message).toContain('square');
  });
});

describe('noGrad, enableGrad, detach', () => {
  it('noGrad records nothing and restores the previous mode, even on error', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(3).exp();
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() => y.sum().backward()).toThrow(AutogradError);
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });

  it('enableGrad records inside noGrad', () => {
    const x = tensor([2], { requiresGrad: true });
    const y = noGrad(() => enableGrad(() => x.square()));
    expect(y.requiresGrad).toBe(true);
    y.sum().backward();
    expect(arr(x.grad)).toEqual([4]);
  });

  it('detach cuts the graph: no gradient flows through the detached branch', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.toArray()).toEqual([1, 2, 3]);
    x.mul(d).sum().backward(); // d/dx (x·c) = c, not 2x
    expect(arr(x.grad)).toEqual([1, 2, 3]);
    const y = tensor([4], { requiresGrad: true });
    expect(() => y.mul(2).detach().sum().backward()).toThrow(AutogradError);
  });

  it('requiresGrad_ works on float leaves only', () => {
    const x = tensor([1, 2]);
    expect(x.requiresGrad_().requiresGrad).toBe(true);
    expect(() => x.mul(2).requiresGrad_()).toThrow(DTypeError);
    expect(() => tensor([1, 2], { dtype: 'int32' }).requiresGrad_()).toThrow(DTypeError);
    expect(() => tensor([1, 2], { dtype: 'int32', requiresGrad: true })).toThrow(DTypeError);
  });
});

describe('higher-order gradients (createGraph)', () => {
  it('d²/dx² of x³ is 6x (through pow and through a product)', () => {
    fc.assert(
      fc.property(specArb(shapeArb(1, 2)), (s) => {
        const xs = s.values.map(Math.fround);
        for (const cube of [(x: Tensor) => x.pow(3), (x: Tensor) => x.mul(x).mul(x)]) {
          const x = T(s, true);
          cube(x).sum().backward(undefined, { createGraph: true });
          const first = x.grad!;
          expect(first.requiresGrad).toBe(true);
          expectClose(arr(first), xs.map((v) => 3 * v * v), 1e-5, 1e-5, 'first derivative');
          x.grad = null;
          first.sum().backward();
          expectClose(arr(x.grad), xs.map((v) => 6 * v), 1e-5, 1e-5, 'second derivative');
        }
      }),
      { numRuns: 15 },
    );
  });

  it('a third derivative: d³/dx³ sin x = −cos x', () => {
    const x = tensor([0.3, -1.2], { requiresGrad: true });
    x.sin().sum().backward(undefined, { createGraph: true });
    const d1 = x.grad!;
    x.grad = null;
    d1.sum().backward(undefined, { createGraph: true });
    const d2 = x.grad!;
    x.grad = null;
    d2.sum().backward();
    expectClose(arr(x.grad), [0.3, -1.2].map((v) => -Math.cos(Math.fround(v))), 1e-6, 1e-5);
  });

  it('without createGraph the gradient carries no graph', () => {
    const x = tensor([2], { requiresGrad: true });
    x.pow(3).sum().backward();
    expect(x.grad!.requiresGrad).toBe(false);
    expect(x.grad!.gradFn).toBeNull();
  });
});

describe('detectAnomaly', () => {
  it('names the first op producing NaN in forward: log of a negative number', () => {
    const x = tensor([1, -1], { requiresGrad: true });
    const e = thrown(() => detectAnomaly(() => x.mul(2).log().sqrt().sum()));
    expect(e).toBeInstanceOf(AnomalyError);
    expect((e as AnomalyError).op).toBe('log');
    expect((e as AnomalyError).phase).toBe('forward');
    expect((e as Error).message).toMatch(/NaN or Inf/);
    // Outside detectAnomaly the same program silently gives NaN.
    expect(Number.isNaN(x.mul(2).log().sqrt().sum().item())).toBe(true);
  });

  it('names the op producing Inf in forward: division by zero', () => {
    const e = thrown(() => detectAnomaly(() => tensor([1, 2]).div(tensor([1, 0]))));
    expect(e).toBeInstanceOf(AnomalyError);
    expect((e as AnomalyError).op).toBe('div');
  });

  it('names the op whose gradient is Inf in backward: sqrt at 0', () => {
    const x = tensor([0, 4], { requiresGrad: true });
    const y = detectAnomaly(() => x.sqrt().sum()); // forward is finite
    expect(y.item()).toBe(2);
    const e = thrown(() => detectAnomaly(() => y.backward()));
    expect(e).toBeInstanceOf(AnomalyError);
    expect((e as AnomalyError).op).toBe('sqrt');
    expect((e as AnomalyError).phase).toBe('backward');
  });

  it('catches a non-finite gradient returned by a custom op', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = record('myop', x.detach().mul(2), [x], () => [tensor([Infinity, 0])]);
    const e = thrown(() => detectAnomaly(() => y.sum().backward()));
    expect(e).toBeInstanceOf(AnomalyError);
    expect((e as AnomalyError).op).toBe('myop');
    expect((e as AnomalyError).phase).toBe('backward');
  });

  it('is off outside its callback', () => {
    detectAnomaly(() => tensor([1]).add(1));
    expect(() => tensor([-1]).log()).not.toThrow();
  });
});

describe('toDot', () => {
  it('lists the op names and is valid-looking DOT', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.name = 'x';
    const w = tensor([[1], [2]], { requiresGrad: true });
    const y = x.exp().mul(x).reshape([1, 2]).matmul(w).sum();
    const dot = toDot(y);
    expect(dot.startsWith('digraph')).toBe(true);
    expect(dot.trim().endsWith('}')).toBe(true);
    for (const op of ['exp', 'mul', 'reshape', 'matmul', 'sum']) expect(dot).toContain(`label="${op}"`);
    expect(dot).toContain('x\\n[2]'); // the name label
    // Every edge joins two declared nodes.
    const declared = new Set([...dot.matchAll(/^\s*(\w+) \[/gm)].map((m) => m[1]));
    const edges = [...dot.matchAll(/^\s*(\w+) -> (\w+);$/gm)];
    expect(edges.length).toBeGreaterThanOrEqual(6);
    for (const [, from, to] of edges) {
      expect(declared.has(from), `edge from undeclared ${from}`).toBe(true);
      expect(declared.has(to), `edge to undeclared ${to}`).toBe(true);
    }
    // The shared input x appears as one node, with edges into both exp and mul.
    const xNode = [...dot.matchAll(/^\s*(t\d+) \[shape=box, label="x\\n/gm)];
    expect(xNode).toHaveLength(1);
    expect(edges.filter(([, from]) => from === xNode[0]![1]).length).toBe(2);
  });
});

describe('gradCheck itself', () => {
  it('rejects a wrong gradient (and reports where)', () => {
    // f(x) = x² recorded with a wrong gradient on purpose: g·x instead of 2·g·x.
    const wrongSquare = (x: Tensor) => record('wrongSquare', x.detach().square(), [x], (g) => [g.mul(x)]);
    const r = gradCheck(wrongSquare, [tensor([1, -2, 3])]);
    expect(r.ok).toBe(false);
    expect(r.mismatches.length).toBe(3);
    expect(r.message).toContain('failed');
    expect(r.maxAbsError).toBeGreaterThan(0.1);
    const good = gradCheck((x) => x.square(), [tensor([1, -2, 3])]);
    expect(good.ok, good.message).toBe(true);
    expect(good.maxAbsError).toBeLessThan(1e-6);
  });

  it('rejects a missing gradient (a detached path)', () => {
    const r = gradCheck((x) => x.mul(x.detach()), [tensor([1, 2])]);
    expect(r.ok).toBe(false);
  });
});
