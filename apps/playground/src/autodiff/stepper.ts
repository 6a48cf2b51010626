/**
 * backward(), one tensor at a time. The engine's backward (packages/tensor/src/autograd.ts) sorts
 * the tensors that need a gradient so each comes after every tensor computed from it, then walks
 * them from the loss down: when a tensor's turn comes its gradient is complete, so its op's vjp
 * runs once and adds the results into the gradients of the op's inputs. This class does the same
 * walk with the same vjp functions (the ones the ops recorded in `gradFn`), stopping after each
 * tensor so the page can show what arrived and what was sent on.
 */
import { noGrad, type Tensor } from '@simplex-vq/tensor';

export interface BackwardEvent {
  /** The tensor whose turn it was, and its complete gradient ∂loss/∂tensor. */
  tensor: Tensor;
  gradient: Tensor;
  /** What its op's vjp sent to each input that needs a gradient (nothing for a leaf). */
  sent: Array<{ input: Tensor; gradient: Tensor }>;
}

/** Tensors reachable from root through inputs that require gradients, each after all tensors computed from it (root first). */
export function backwardOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const visit = (t: Tensor) => {
    for (const x of t.gradFn?.inputs ?? []) {
      if (x.requiresGrad && !seen.has(x)) {
        seen.add(x);
        visit(x);
      }
    }
    order.push(t); // after all its inputs: reversed, after everything that uses it
  };
  visit(root); // graphs here are a few dozen tensors deep; the engine's own sort is iterative
  return order.reverse();
}

export class BackwardStepper {
  readonly order: Tensor[];
  /** Gradients complete so far, by tensor. */
  readonly gradients = new Map<Tensor, Tensor>();
  /** Sums in progress for tensors whose turn has not come. */
  private readonly pending = new Map<Tensor, Tensor>();
  position = 0;
  readonly events: BackwardEvent[] = [];

  constructor(readonly root: Tensor) {
    if (root.size !== 1 || !root.requiresGrad) throw new Error('BackwardStepper: the root must be a scalar that requires a gradient');
    this.order = backwardOrder(root);
    this.pending.set(root, noGrad(() => root.onesLike()));
  }

  get done(): boolean {
    return this.position >= this.order.length;
  }

  /** Processes the next tensor; null when the walk is over. */
  next(): BackwardEvent | null {
    if (this.done) return null;
    const t = this.order[this.position++]!;
    const gradient = this.pending.get(t)!;
    this.pending.delete(t);
    this.gradients.set(t, gradient);
    const sent: BackwardEvent['sent'] = [];
    const node = t.gradFn;
    if (node?.vjp) {
      const grads = noGrad(() => node.vjp!(gradient));
      node.inputs.forEach((input, i) => {
        const g = grads[i];
        if (!input.requiresGrad || !g) return;
        sent.push({ input, gradient: g });
        const prev = this.pending.get(input);
        this.pending.set(input, prev ? noGrad(() => prev.add(g)) : g);
      });
    }
    const event = { tensor: t, gradient, sent };
    this.events.push(event);
    return event;
  }
}
