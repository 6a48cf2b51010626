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
 * tensors goes back to the garbage collector; the gradients and temporaries the pass itself made
 * go back to the backend as soon as nothing holds them (where it can reuse storage: CpuBackend).
 */
import { AnomalyError, AutogradError, ShapeError, fmtShape } from './errors.js';
import { shapesEqual } from './shape.js';
import type { DataHandle } from './backend.js';
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

let tidyDepth = 0;

/** @internal Runs fn as part of tidy() (tidy.ts): backward() refuses to run inside it. */
export function inTidy<T>(fn: () => T): T {
  tidyDepth++;
  try {
    return fn();
  } finally {
    tidyDepth--;
  }
}

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
 *
 * A vjp must not keep its gradient argument, or a tensor it makes and does not return, past the
 * call: backward() may hand their storage back to the backend for reuse as soon as it returns.
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
  if (tidyDepth > 0) {
    throw new AutogradError('backward', 'called inside tidy(), which gives back the storage of every tensor made inside it (leaf gradients too); call backward() outside it');
  }
  if (!root.requiresGrad) {
    throw new AutogradError('backward', 'the tensor does not require grad: no input of the ops that made it had requiresGrad set');
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new AutogradError('backward', `called on a non-scalar tensor of shape ${fmtShape(root.shape)} without a gradient; pass one of the same shape, or reduce first (e.g. .sum())`);
    }
  } else if (!shapesEqual(grad.shape, root.shape)) {
    throw new ShapeError('backward', `gradient of shape ${fmtShape(grad.shape)} given for a tensor of shape ${fmtShape(root.shape)}`);
  }
  // Storage reuse (without createGraph, on a backend that can track and take back handles): the
  // gradients this pass makes, and the temporaries its vjps make, are handed back to the backend
  // as soon as nothing holds them, so the next tensors of the same size reuse their storage.
  // `owned` are the handles this pass allocated and still holds; `uses` counts the pending
  // gradients (entries of `grads`) that hold each handle, since a vjp may pass its gradient on
  // as is or as a view (add's, reshape's). A leaf's `.grad` leaves `owned`: it is the user's.
  const backend = root.backend;
  const recycle = !opts.createGraph && backend.trackAllocations !== undefined && backend.dispose !== undefined;
  const owned = new Set<DataHandle>();
  const uses = new Map<DataHandle, number>();
  const tracked = <T>(fn: () => T, made: DataHandle[]): T => {
    if (!recycle) return fn();
    const { result, allocated } = backend.trackAllocations!(fn);
    for (const h of allocated) {
      owned.add(h);
      made.push(h);
    }
    return result;
  };
  const hold = (h: DataHandle) => uses.set(h, (uses.get(h) ?? 0) + 1);
  const unhold = (h: DataHandle) => {
    const n = (uses.get(h) ?? 1) - 1;
    if (n > 0) uses.set(h, n);
    else uses.delete(h);
  };
  const giveBack = (handles: DataHandle[]) => {
    for (const h of handles) {
      if (owned.has(h) && !uses.has(h)) {
        owned.delete(h);
        backend.dispose!(h);
      }
    }
  };
  if (grad === undefined) grad = tracked(() => ones(root), []);

  const run = () => {
    const grads = new Map<Tensor, Tensor>([[root, grad!]]);
    hold(grad!.handle);
    for (const t of topologicalOrder(root)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      unhold(g.handle);
      const node = t.gradFn;
      const done: DataHandle[] = [g.handle]; // handles that may be free once this tensor is done
      if (!node) {
        // A leaf gets its own Tensor object, even where one gradient reaches several leaves
        // (with createGraph, the gradient itself, so its graph stays attached).
        t.grad = t.grad ? tracked(() => add(t.grad!, g), []) : opts.createGraph ? g : g.detach();
        owned.delete(t.grad.handle);
        giveBack(done);
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
        inputGrads = tracked(() => node.vjp!(g), done);
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
        const next = prev ? tracked(() => add(prev, gx), done) : gx;
        if (prev) {
          unhold(prev.handle);
          done.push(prev.handle);
        }
        grads.set(x, next);
        hold(next.handle);
      });
      if (!(opts.retainGraph ?? opts.createGraph ?? false)) {
        node.vjp = null;
        node.inputs = [];
      }
      giveBack(done);
    }
  };
  if (opts.createGraph) enableGrad(run);
  else noGrad(run);
}
