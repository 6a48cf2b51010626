/**
 * Reverse-mode autodiff, define-by-run.
 *
 * Every op whose inputs require gradients calls `record`, which attaches a GradNode to its output:
 * the op's name, its inputs, and `vjp`, the function that maps the gradient of the output to the
 * gradients of the inputs (a vector-Jacobian product, written with tensor ops beside the forward).
 *
 * `backward(root)` sorts the tensors reachable from `root` topologically (each after everything
 * that uses it), then walks them from the root down: each tensor's gradient is complete when its
 * turn comes, so its node's vjp runs once and its results are added to its inputs' gradients.
 * Leaves receive the sum in `.grad`. The graph is then released, so memory held by the saved
 * tensors goes back to the garbage collector.
 */
import { AnomalyError, AutogradError, ShapeError, fmtShape } from './errors.js';
import { shapesEqual } from './shape.js';
import type { Tensor } from './tensor.js';

export interface GradNode {
  /** The op that made the tensor, e.g. 'matmul'. */
  readonly op: string;
  /** The op's tensor inputs, in order. */
  inputs: Tensor[];
  /** Gradient of the output ↦ one gradient per input (null where an input needs none). */
  vjp: ((grad: Tensor) => Array<Tensor | null>) | null;
  /** The inputs' versions when the op ran: an in-place change since then makes its vjp wrong. */
  versions: number[];
}

let gradEnabled = true;
let anomalyMode = false;
/** While a vjp runs: the op whose gradient is being computed (anomalies are reported against it). */
let backwardOp: string | null = null;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the graph (like `torch.no_grad()`): inference, optimizer updates. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs fn with anomaly detection: every op's output and every gradient is checked for NaN and
 * Inf, and the first op that produced one raises an AnomalyError naming it. Slow; for debugging.
 */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = anomalyMode;
  anomalyMode = true;
  try {
    return fn();
  } finally {
    anomalyMode = prev;
  }
}

export function isAnomalyEnabled(): boolean {
  return anomalyMode;
}

function hasNonFinite(t: Tensor): boolean {
  if (t.dtype === 'int32') return false;
  const v = t.backend.read(t.handle, t.size, t.dtype);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return true;
  return false;
}

/**
 * Attaches the autodiff node to `out`, if recording is on and any input requires a gradient.
 * Called by every differentiable op right after its forward computation.
 */
export function record(op: string, out: Tensor, inputs: Tensor[], vjp: (grad: Tensor) => Array<Tensor | null>): Tensor {
  checkForward(op, out, inputs);
  if (gradEnabled && out.dtype === 'float32' && inputs.some((t) => t.requiresGrad)) {
    if (out.gradFn || inputs.includes(out)) {
      throw new AutogradError(op, 'record() needs a new output tensor; this one already belongs to the graph (an input, or the output of another op)');
    }
    out.requiresGrad = true;
    out.gradFn = { op, inputs, vjp, versions: inputs.map((t) => t.version) };
  }
  return out;
}

/**
 * Checks an op's output for NaN/Inf under detectAnomaly. An op that runs inside a vjp is part of
 * a gradient: the anomaly is reported as the backward of the op being differentiated.
 */
export function checkForward(op: string, out: Tensor, inputs: Tensor[]): Tensor {
  if (anomalyMode && hasNonFinite(out) && !inputs.some(hasNonFinite)) {
    if (backwardOp !== null) {
      throw new AnomalyError(backwardOp, 'backward', `its gradient produced NaN or Inf from finite values (in '${op}', shape ${fmtShape(out.shape)})`);
    }
    throw new AnomalyError(op, 'forward', `produced NaN or Inf from finite inputs (output ${fmtShape(out.shape)})`);
  }
  return out;
}

/** Tensors reachable from root through nodes, each listed after every tensor computed from it. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS (deep graphs, e.g. long RNN-like loops, would overflow recursion).
  const stack: Array<[Tensor, number]> = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i]!;
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse(); // root first
}

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default: the value of createGraph). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's `.grad`. `grad` is the gradient of some scalar
 * with respect to root; it may be omitted only when root is a scalar (it is then 1).
 */
export function backward(root: Tensor, grad: Tensor | undefined, opts: BackwardOptions, ones: (like: Tensor) => Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  if (!root.requiresGrad) {
    throw new AutogradError('backward', 'the tensor does not require grad: no input of the ops that made it had requiresGrad set');
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new AutogradError('backward', `called on a non-scalar tensor of shape ${fmtShape(root.shape)} without a gradient; pass one of the same shape, or reduce first (e.g. .sum())`);
    }
    grad = ones(root);
  } else if (!shapesEqual(grad.shape, root.shape)) {
    throw new ShapeError('backward', `gradient of shape ${fmtShape(grad.shape)} given for a tensor of shape ${fmtShape(root.shape)}`);
  }
  const run = () => {
    const grads = new Map<Tensor, Tensor>([[root, grad!]]);
    for (const t of topologicalOrder(root)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.gradFn;
      if (!node) {
        // A leaf gets its own Tensor object, even where one gradient reaches several leaves
        // (with createGraph, the gradient itself, so its graph stays attached).
        t.grad = t.grad ? add(t.grad, g) : opts.createGraph ? g : g.detach();
        continue;
      }
      if (!node.vjp) {
        throw new AutogradError('backward', `the graph through '${node.op}' was already released by an earlier backward(); pass { retainGraph: true } to the first call to go through it twice`);
      }
      node.inputs.forEach((x, i) => {
        if (x.version !== node.versions[i]) {
          throw new AutogradError('backward', `input ${i} of '${node.op}' (shape ${fmtShape(x.shape)}) was modified in place by assign() after '${node.op}' used it; its gradient would be wrong`);
        }
      });
      const outer = backwardOp;
      backwardOp = node.op;
      let inputGrads: Array<Tensor | null>;
      try {
        inputGrads = node.vjp(g);
      } finally {
        backwardOp = outer;
      }
      node.inputs.forEach((x, i) => {
        const gx = inputGrads[i];
        if (!x.requiresGrad || !gx) return;
        if (!shapesEqual(gx.shape, x.shape)) {
          throw new ShapeError(node.op, `gradient for input ${i} has shape ${fmtShape(gx.shape)}, expected ${fmtShape(x.shape)} (a bug in the op's vjp)`);
        }
        if (anomalyMode && !backwardOp && hasNonFinite(gx) && !hasNonFinite(g)) {
          throw new AnomalyError(node.op, 'backward', `gradient for input ${i} contains NaN or Inf although the incoming gradient is finite`);
        }
        const prev = grads.get(x);
        grads.set(x, prev ? add(prev, gx) : gx);
      });
      if (!(opts.retainGraph ?? opts.createGraph ?? false)) {
        node.vjp = null;
        node.inputs = [];
      }
    }
  };
  if (opts.createGraph) enableGrad(run);
  else noGrad(run);
}
