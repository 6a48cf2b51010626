/**
 * gradCheck: compares the analytic gradient (from backward()) with central differences,
 *   ∂L/∂x_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h,
 * where L = Σ fn(inputs) ⊙ r for a fixed random r (so any output shape is checked at once).
 *
 * Both sides run on a float64 CPU backend: with float32 rounding, differences of nearby values
 * lose half their digits and the check could only be loose. In float64 a correct gradient
 * agrees to ~1e-8, a wrong one visibly does not.
 */
import { withBackend } from './backend.js';
import { noGrad } from './autograd.js';
import { CpuBackend } from './cpu/cpu-backend.js';
import { Generator } from './random.js';
import { Tensor } from './tensor.js';

export interface GradCheckOptions {
  /** Step of the central difference (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-4). */
  rtol?: number;
  /** Seed of the random projection r. */
  seed?: number;
  /** Check at most this many elements per input (spread evenly; default all). */
  maxElements?: number;
}

export interface GradCheckMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

export interface GradCheckResult {
  ok: boolean;
  /** Largest |analytic − numeric| over every checked element. */
  maxAbsError: number;
  /** The elements outside tolerance (at most 10). */
  mismatches: GradCheckMismatch[];
  /** A readable summary, for test failures. */
  message: string;
}

const cpu64 = new CpuBackend({ precision: 'float64', threads: 1 });

/**
 * Checks the gradient of `fn` with respect to every float32 input (int32 inputs, e.g. indices,
 * are passed through unchanged).
 */
export function gradCheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradCheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-4;
  return withBackend(cpu64, () => {
    const values = inputs.map((t) => Float64Array.from(t.backend.read(t.handle, t.size, t.dtype)));
    const make = (i: number, v: Float64Array | Int32Array, grad: boolean) => {
      const t = inputs[i]!;
      return new Tensor(cpu64.fromArray(v, t.dtype), t.shape, t.dtype, cpu64, grad && t.dtype === 'float32');
    };
    const xs = inputs.map((_, i) => make(i, values[i]!, true));
    const out = fn(...xs);
    const gen = new Generator(opts.seed ?? 1234);
    const r = new Tensor(cpu64.fromArray(Float64Array.from({ length: out.size }, () => gen.normal()), 'float32'), out.shape, 'float32', cpu64);
    const loss = (o: Tensor) => o.mul(r).sum();
    const L = loss(out);
    if (L.requiresGrad) L.backward();
    const mismatches: GradCheckMismatch[] = [];
    let maxAbsError = 0;
    xs.forEach((x, i) => {
      if (x.dtype !== 'float32') return;
      const analytic = x.grad ? cpu64.read(x.grad.handle, x.size, 'float32') : new Float64Array(x.size);
      const base = values[i]!;
      const step = opts.maxElements && base.length > opts.maxElements ? base.length / opts.maxElements : 1;
      for (let f = 0; f < base.length; f += step) {
        const j = Math.floor(f);
        const evalAt = (v: number) => {
          const pert = Float64Array.from(base);
          pert[j] = v;
          const args = xs.map((_, q) => (q === i ? make(q, pert, false) : make(q, values[q]!, false)));
          return noGrad(() => loss(fn(...args)).item());
        };
        const numeric = (evalAt(base[j]! + eps) - evalAt(base[j]! - eps)) / (2 * eps);
        const err = Math.abs(analytic[j]! - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        if (!(err <= atol + rtol * Math.abs(numeric)) && mismatches.length < 10) {
          mismatches.push({ input: i, index: j, analytic: analytic[j]!, numeric });
        }
      }
    });
    const ok = mismatches.length === 0;
    const message = ok
      ? `gradCheck passed (max abs error ${maxAbsError.toExponential(2)})`
      : `gradCheck failed:\n${mismatches.map((m) => `  input ${m.input}[${m.index}]: analytic ${m.analytic}, numeric ${m.numeric}`).join('\n')}`;
    return { ok, maxAbsError, mismatches, message };
  });
}
