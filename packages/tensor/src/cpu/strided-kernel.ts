/**
 * Generated elementwise loops for the CPU backend.
 *
 * Every elementwise primitive (unary, broadcasting binary, where, permute, broadcastTo, slice,
 * sliceScatter) is one loop over an output index space where each operand is read (and the output
 * written) through its own offset and strides. The loops differ only in the function that
 * combines the operands, so one template serves all: `stridedKernel((x, y) => x + y)` compiles a
 * loop with the function's body, `x + y`, written inline (with `new Function`), and V8 optimizes
 * each one on its own (a shared loop calling a per-op closure would be megamorphic and several
 * times slower). The functions are the ops' definitions in ../elementwise.ts.
 *
 * Where code cannot be compiled — a browser page whose Content-Security-Policy has no
 * 'unsafe-eval', where `new Function` throws an EvalError — the same loop runs interpreted: it
 * calls the function for each element (slower, same results bit for bit). This is found out once,
 * on the first loop, and remembered. A function's body, compiled, is also checked against the
 * function on SPECIAL_VALUES before its loop is used, and the interpreted loop taken if they
 * differ (as they could if a bundler rewrote the function's source).
 */
import { HELPERS, SPECIAL_VALUES } from '../elementwise.js';

type Arr = Float32Array | Float64Array | Int32Array;

/** An elementwise function of 1 to 3 operands (its `length` is its arity). */
export type ScalarFn = (...args: number[]) => number;

/**
 * A loop: dims is the (collapsed) index space; operand i is read at
 * `off[i] + Σ idx[d]·str[i][d]`; operand 0 is the output.
 */
export type StridedKernel = (dims: number[], arrays: Arr[], offsets: number[], strides: number[][]) => void;

/** Makes a function from parameter names and a body, as `new Function(...params, body)` does. */
export type FunctionMaker = (params: string[], body: string) => (...args: unknown[]) => unknown;

const newFunction: FunctionMaker = (params, body) => new Function(...params, body) as (...args: unknown[]) => unknown;

let makeFunction: FunctionMaker = newFunction;
/** Whether makeFunction works here (undefined: not tried yet). */
let canCompile: boolean | undefined;
const cache = new Map<ScalarFn, StridedKernel>();
const compiled = new WeakSet<StridedKernel>();

/**
 * How the CPU backend runs elementwise loops here: 'compiled' (generated code), 'interpreted'
 * (plain loops calling each op's function: code generation is refused, e.g. by a
 * Content-Security-Policy without 'unsafe-eval'), or 'untried' before the first loop.
 */
export function cpuKernelMode(): 'compiled' | 'interpreted' | 'untried' {
  return canCompile === undefined ? 'untried' : canCompile ? 'compiled' : 'interpreted';
}

/**
 * For tests: replaces `new Function` (e.g. by one that throws an EvalError, as a page under a
 * strict CSP does), or restores it with no argument. Forgets every loop built so far.
 */
export function setFunctionMaker(maker: FunctionMaker = newFunction): void {
  makeFunction = maker;
  canCompile = undefined;
  cache.clear();
}

/** The loop for `fn`, compiled once (per function) or interpreted where code cannot be generated. */
export function stridedKernel(fn: ScalarFn): StridedKernel {
  let k = cache.get(fn);
  if (!k) {
    k = (compilable() && compiledLoop(fn)) || interpretedLoop(fn);
    cache.set(fn, k);
  }
  return k;
}

function compilable(): boolean {
  if (canCompile === undefined) {
    try {
      canCompile = makeFunction([], 'return 1;')() === 1;
    } catch {
      canCompile = false; // EvalError under a CSP without 'unsafe-eval'
    }
  }
  return canCompile;
}

/** Whether fn's loop is generated code (false: the interpreted loop). For tests. */
export function isCompiled(fn: ScalarFn): boolean {
  return compiled.has(stridedKernel(fn));
}

/** `(a, b) => expr` → its parameter names and `expr`; null for any other form of function. */
export function arrowParts(fn: ScalarFn): { params: string[]; body: string } | null {
  const m = /^\s*(?:\(([^()]*)\)|([A-Za-z_$][\w$]*))\s*=>\s*([\s\S]+)$/.exec(fn.toString());
  if (!m) return null;
  const params = (m[1] ?? m[2]!).split(',').map((p) => p.trim()).filter((p) => p !== '');
  const body = m[3]!.trim();
  if (body.startsWith('{') || params.length !== fn.length || !params.every((p) => /^[A-Za-z_$][\w$]*$/.test(p))) return null;
  return { params, body };
}

/** The generated loop for fn, or null if its source cannot be used (not an arrow, or it disagrees with fn). */
function compiledLoop(fn: ScalarFn): StridedKernel | null {
  const parts = arrowParts(fn);
  if (!parts) return null;
  const { params, body } = parts;
  const ins = params.map((_, i) => i);
  // Operand i + 1 is bound to the function's parameter i, in a block of its own.
  const apply = (at: (i: number) => string, outAt: string) =>
    `{ ${ins.map((i) => `const ${params[i]} = in${i}[${at(i)}];`).join(' ')} out[${outAt}] = (${body}); }`;
  const src = `
    return function stridedKernel(dims, arrays, offsets, strides) {
      const r = dims.length;
      const out = arrays[0];
      ${ins.map((i) => `const in${i} = arrays[${i + 1}];`).join('\n')}
      let p0 = offsets[0]; ${ins.map((i) => `let p${i + 1} = offsets[${i + 1}];`).join(' ')}
      if (r === 0) { ${apply((i) => `p${i + 1}`, 'p0')} return; }
      for (let d = 0; d < r; d++) if (dims[d] === 0) return;
      const L = dims[r - 1];
      const s0 = strides[0][r - 1]; ${ins.map((i) => `const s${i + 1} = strides[${i + 1}][r - 1];`).join(' ')}
      const contiguous = s0 === 1 ${ins.map((i) => `&& s${i + 1} === 1`).join(' ')};
      const idx = new Int32Array(Math.max(r - 1, 1));
      for (;;) {
        if (contiguous) {
          for (let j = 0; j < L; j++) ${apply((i) => `p${i + 1} + j`, 'p0 + j')}
        } else {
          for (let j = 0; j < L; j++) ${apply((i) => `p${i + 1} + j * s${i + 1}`, 'p0 + j * s0')}
        }
        let d = r - 2;
        for (; d >= 0; d--) {
          idx[d]++;
          p0 += strides[0][d]; ${ins.map((i) => `p${i + 1} += strides[${i + 1}][d];`).join(' ')}
          if (idx[d] < dims[d]) break;
          const n = dims[d];
          p0 -= strides[0][d] * n; ${ins.map((i) => `p${i + 1} -= strides[${i + 1}][d] * n;`).join(' ')}
          idx[d] = 0;
        }
        if (d < 0) return;
      }
    };`;
  try {
    const names = Object.keys(HELPERS), helpers = Object.values(HELPERS);
    // The body, compiled on its own, must give fn's results (it would not if a bundler had
    // renamed something it uses). Checked apart from the loop, so the loop's type feedback
    // comes only from real use.
    const scalar = makeFunction(names, `return (${params.join(', ')}) => (${body});`)(...helpers) as ScalarFn;
    if (!agreesOnSpecialValues(scalar, fn)) return null;
    const k = makeFunction(names, src)(...helpers) as StridedKernel;
    compiled.add(k);
    return k;
  } catch {
    return null;
  }
}

/** Whether g gives fn's results, bit for bit, on every tuple of SPECIAL_VALUES. */
function agreesOnSpecialValues(g: ScalarFn, fn: ScalarFn): boolean {
  const v = SPECIAL_VALUES, m = v.length, arity = fn.length;
  for (let t = 0; t < m ** arity; t++) {
    const args = Array.from({ length: arity }, (_, i) => v[Math.floor(t / m ** i) % m]!);
    if (!Object.is(g(...args), fn(...args))) return false;
  }
  return true;
}

/** The same loop without generated code: fn is called for each element. */
function interpretedLoop(fn: ScalarFn): StridedKernel {
  return (dims, arrays, offsets, strides) => {
    const r = dims.length, n = arrays.length;
    const out = arrays[0]!, x = arrays[1]!, y = arrays[2]!, z = arrays[3]!;
    const p = offsets.slice();
    if (r === 0) {
      out[p[0]!] = n === 2 ? fn(x[p[1]!]!) : n === 3 ? fn(x[p[1]!]!, y[p[2]!]!) : fn(x[p[1]!]!, y[p[2]!]!, z[p[3]!]!);
      return;
    }
    if (dims.includes(0)) return;
    const L = dims[r - 1]!;
    const [s0, s1, s2, s3] = strides.map((s) => s[r - 1]!) as [number, number, number, number];
    const idx = new Array<number>(r).fill(0);
    for (;;) {
      // The innermost axis, one loop per arity.
      let o = p[0]!, i = p[1]!, j = p[2] ?? 0, k = p[3] ?? 0;
      if (n === 2) for (let t = 0; t < L; t++, o += s0, i += s1) out[o] = fn(x[i]!);
      else if (n === 3) for (let t = 0; t < L; t++, o += s0, i += s1, j += s2) out[o] = fn(x[i]!, y[j]!);
      else for (let t = 0; t < L; t++, o += s0, i += s1, j += s2, k += s3) out[o] = fn(x[i]!, y[j]!, z[k]!);
      // The outer axes, as an odometer.
      let d = r - 2;
      for (; d >= 0; d--) {
        idx[d]!++;
        for (let q = 0; q < n; q++) p[q]! += strides[q]![d]!;
        if (idx[d]! < dims[d]!) break;
        for (let q = 0; q < n; q++) p[q]! -= strides[q]![d]! * dims[d]!;
        idx[d] = 0;
      }
      if (d < 0) return;
    }
  };
}

/**
 * A copy through strides (permute, slice) whose innermost collapsed axis is contiguous on both
 * sides and at least `minRun` long: each run is copied with `set` (a memcpy), the outer axes
 * counted by hand. Returns false, having done nothing, for any other layout; the caller then
 * runs the elementwise loop. Moving whole lines this way is 3–4× the loop (the convolutions'
 * [O, N, H·W] → [N, O, H·W] permutes); the results are the same values.
 */
export function copyRuns(dims: number[], out: Arr, x: Arr, xOff: number, strides: number[][], minRun = 32): boolean {
  const last = dims.length - 1;
  if (last < 0 || dims[last]! < minRun || strides[0]![last] !== 1 || strides[1]![last] !== 1 || out.constructor !== x.constructor) return false;
  if (out.length === 0) return true;
  const run = dims[last]!, outer = dims.slice(0, last), idx = new Array<number>(last).fill(0);
  const so = strides[0]!, sx = strides[1]!;
  let o = 0, i = xOff;
  for (;;) {
    out.set(x.subarray(i, i + run), o);
    let d = last - 1;
    for (; d >= 0; d--) {
      o += so[d]!;
      i += sx[d]!;
      if (++idx[d]! < outer[d]!) break;
      o -= so[d]! * outer[d]!;
      i -= sx[d]! * outer[d]!;
      idx[d] = 0;
    }
    if (d < 0) return true;
  }
}
