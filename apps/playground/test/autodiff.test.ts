/**
 * The autodiff view's machinery, in Node: BackwardStepper walks the graph as the engine's
 * backward() does and ends with the same gradients, bit for bit, on the view's expressions and on
 * generated ones (fast-check: random chains of ops over leaves of random shapes, with shared
 * inputs so gradients add up); the layout puts every input on a level above its users and no two
 * tensors on one spot.
 */
import fc from 'fast-check';
import { tensor, type Tensor } from '@simplex-vq/tensor';
import { describe, expect, it } from 'vitest';
import { EXPRESSIONS, makeLeaves } from '../src/autodiff/expressions.js';
import { collectGraph, layoutGraph } from '../src/autodiff/graph-layout.js';
import { BackwardStepper, backwardOrder } from '../src/autodiff/stepper.js';

/** Runs the stepper to the end; returns it and the gradient it found for each leaf. */
function walk(root: Tensor, leaves: Tensor[]): { stepper: BackwardStepper; grads: Array<Float32Array | null> } {
  const stepper = new BackwardStepper(root);
  let steps = 0;
  while (stepper.next()) steps++;
  expect(steps).toBe(stepper.order.length);
  expect(stepper.next()).toBe(null);
  return { stepper, grads: leaves.map((l) => (stepper.gradients.get(l)?.data() as Float32Array | undefined) ?? null) };
}

describe('BackwardStepper', () => {
  for (const e of EXPRESSIONS) {
    it(`gives backward()'s gradients on "${e.id}", visiting each tensor after every tensor computed from it`, () => {
      const mine = makeLeaves(e);
      const root = e.build(mine);
      const { stepper, grads } = walk(root, Object.values(mine));
      const theirs = makeLeaves(e);
      e.build(theirs).backward();
      Object.values(theirs).forEach((leaf, i) => {
        if (!leaf.requiresGrad) return expect(grads[i]).toBe(null);
        expect(Array.from(grads[i]!)).toEqual(Array.from(leaf.grad!.data()));
      });
      const position = new Map(stepper.order.map((t, i) => [t, i]));
      for (const t of stepper.order) for (const x of t.gradFn?.inputs ?? []) if (x.requiresGrad) expect(position.get(x)!).toBeGreaterThan(position.get(t)!);
      expect(stepper.events[0]!.tensor).toBe(root);
      expect(Array.from(stepper.events[0]!.gradient.data())).toEqual([1]);
    });
  }

  it('matches backward() on generated graphs (random ops over shared leaves of random shapes)', () => {
    const unary = ['tanh', 'sigmoid', 'square', 'relu', 'exp', 'neg'] as const;
    const binary = ['add', 'sub', 'mul'] as const;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('unary' as const), name: fc.constantFrom(...unary), a: fc.nat() }),
      fc.record({ kind: fc.constant('binary' as const), name: fc.constantFrom(...binary), a: fc.nat(), b: fc.nat() }),
      fc.record({ kind: fc.constant('sum' as const), a: fc.nat() }),
    );
    const value = fc.float({ min: Math.fround(-2), max: Math.fround(2), noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.array(value, { minLength: 9, maxLength: 9 }), { minLength: 1, maxLength: 3 }), fc.array(op, { minLength: 1, maxLength: 8 }), (rows, cols, leafValues, ops) => {
        const build = () => {
          const leaves = leafValues.map((v) => tensor(Float32Array.from(v.slice(0, rows * cols)), { shape: [rows, cols], requiresGrad: true }));
          // Every result joins the pool, so later ops reuse earlier tensors (fan-out: gradients add).
          const pool: Tensor[] = [...leaves];
          for (const o of ops) {
            const a = pool[o.a % pool.length]!;
            if (o.kind === 'unary') pool.push(a[o.name]());
            else if (o.kind === 'binary') pool.push(a[o.name](pool[o.b % pool.length]!));
            else pool.push(a.sum(0, true).broadcastTo([rows, cols]));
          }
          return { leaves, root: pool.reduce((s, t) => s.add(t)).sum() };
        };
        const mine = build();
        const { grads } = walk(mine.root, mine.leaves);
        const theirs = build();
        theirs.root.backward();
        theirs.leaves.forEach((leaf, i) => expect(Array.from(grads[i]!)).toEqual(Array.from(leaf.grad!.data())));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a root that is not a scalar requiring a gradient', () => {
    expect(() => new BackwardStepper(tensor([1, 2], { requiresGrad: true }).mul(2))).toThrow(/scalar/);
    expect(() => new BackwardStepper(tensor(1))).toThrow(/requires a gradient/);
  });

  it('leaves out inputs that need no gradient', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const x = tensor([3, 4]);
    const order = backwardOrder(w.mul(x).sum());
    expect(order).toContain(w);
    expect(order).not.toContain(x);
  });
});

describe('layoutGraph', () => {
  for (const e of EXPRESSIONS) {
    it(`places "${e.id}" with inputs above their users and no two tensors on one spot`, () => {
      const root = e.build(makeLeaves(e));
      const { nodes, width, height } = layoutGraph(collectGraph(root), { columnWidth: 180, rowHeight: 80, marginX: 90, marginY: 40 });
      expect(nodes.find((n) => n.tensor === root)!.level).toBe(Math.max(...nodes.map((n) => n.level)));
      const spots = new Set<string>();
      for (const n of nodes) {
        for (const i of n.inputs) expect(i.level).toBeLessThan(n.level);
        // A leaf sits right above its first user.
        if (n.inputs.length === 0) expect(n.level).toBe(Math.min(...n.users.map((u) => u.level)) - 1);
        const spot = `${n.x},${n.y}`;
        expect(spots.has(spot)).toBe(false);
        spots.add(spot);
        expect(n.x).toBeGreaterThanOrEqual(90);
        expect(n.x).toBeLessThanOrEqual(width - 90);
        expect(n.y).toBeGreaterThanOrEqual(40);
        expect(n.y).toBeLessThanOrEqual(height - 40);
      }
    });
  }
});
