/**
 * Typed errors. Every message names the operation, the shapes or values involved and what was
 * expected, so a user can find the bad call without a debugger.
 */

/** Base class of every error the engine raises on purpose. */
export class TensorError extends Error {
  constructor(
    /** The operation that refused its input, e.g. `matmul`. */
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit: broadcasting, matmul inner dimensions, reshape sizes, axes. */
export class ShapeError extends TensorError {}

/** A dtype the operation does not accept (e.g. `log` of an int32 tensor, float indices). */
export class DTypeError extends TensorError {}

/** A value out of range: an index past the end, a negative size, k larger than the axis. */
export class IndexError extends TensorError {}

/** An argument of the wrong kind — null, a string, an object where a tensor, a number or a list of sizes belongs. */
export class ArgumentError extends TensorError {}

/** Misuse of autodiff: backward on a non-scalar without a gradient, a released graph. */
export class AutogradError extends TensorError {}

/** `detectAnomaly` found NaN or Inf; `op` is the first operation that produced it. */
export class AnomalyError extends TensorError {
  constructor(
    op: string,
    readonly phase: 'forward' | 'backward',
    message: string,
  ) {
    super(op, message);
  }
}

/** No backend of that name, or a backend that cannot serve a request. */
export class BackendError extends TensorError {}

/** Formats a shape the way errors print it: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A value as an error message shows it: `null`, `'abc'`, `an object`, `1.5`, `a Tensor [2, 3]`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `'${v.length > 20 ? `${v.slice(0, 20)}…` : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `[${v.slice(0, 6).map(describeValue).join(', ')}${v.length > 6 ? ', …' : ''}]`;
  const shape = (v as { shape?: unknown }).shape;
  if (Array.isArray(shape)) return `a Tensor ${fmtShape(shape as number[])}`;
  const name = (v as object).constructor?.name ?? 'Object';
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}
