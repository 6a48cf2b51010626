/**
 * Generated elementwise loops for the CPU backend.
 *
 * Every elementwise primitive (unary, broadcasting binary, where, permute, broadcastTo, slice,
 * sliceScatter) is one loop over an output index space where each operand is read (and the output
 * written) through its own offset and strides. The loops differ only in the expression that
 * combines the operands, so one template serves all: `compileStrided(arity, 'x + y')` compiles a
 * specialized function with `new Function`, and V8 optimizes each one on its own (a shared loop
 * calling a per-op closure would be megamorphic and several times slower).
 */

/** Expression helpers visible to generated code. */
function erfcFit(z: number): number {
  // Numerical Recipes' erfc approximation (fractional error < 1.2e-7 everywhere).
  const t = 1 / (1 + 0.5 * z);
  return (
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}
// The fit gives erfc(0) = e^(3e-8), not 1: divided out so erf(0) = 0 and erf is continuous at 0
// (otherwise erf(x) < 0 for tiny x > 0 and its numeric derivative at 0 is off by 3%).
const ERFC_FIT_AT_0 = erfcFit(0);
function erf(x: number): number {
  const r = erfcFit(Math.abs(x)) / ERFC_FIT_AT_0;
  return x >= 0 ? 1 - r : r - 1;
}
export { erf };

type Arr = Float32Array | Float64Array | Int32Array;

/**
 * A compiled loop: dims is the (collapsed) index space; operand i is read at
 * `off[i] + Σ idx[d]·str[i][d]`; operand 0 is the output.
 */
export type StridedKernel = (dims: number[], arrays: Arr[], offsets: number[], strides: number[][]) => void;

const cache = new Map<string, StridedKernel>();

/**
 * Compiles `out = expr(x, y, z)` over `arity` inputs. Inputs are named x, y, z in the expression.
 */
export function compileStrided(arity: 0 | 1 | 2 | 3, expr: string): StridedKernel {
  const key = `${arity}|${expr}`;
  let k = cache.get(key);
  if (k) return k;
  const names = ['x', 'y', 'z'].slice(0, arity);
  const loads = (idx: (i: number) => string) =>
    names.map((nm, i) => `const ${nm} = in${i}[${idx(i)}];`).join(' ');
  const src = `
    return function stridedKernel(dims, arrays, offsets, strides) {
      const r = dims.length;
      const out = arrays[0];
      ${names.map((_, i) => `const in${i} = arrays[${i + 1}];`).join('\n')}
      let p0 = offsets[0]; ${names.map((_, i) => `let p${i + 1} = offsets[${i + 1}];`).join(' ')}
      if (r === 0) { ${loads((i) => `p${i + 1}`)} out[p0] = ${expr}; return; }
      for (let d = 0; d < r; d++) if (dims[d] === 0) return;
      const L = dims[r - 1];
      const s0 = strides[0][r - 1]; ${names.map((_, i) => `const s${i + 1} = strides[${i + 1}][r - 1];`).join(' ')}
      const contiguous = s0 === 1 ${names.map((_, i) => `&& s${i + 1} === 1`).join(' ')};
      const idx = new Int32Array(Math.max(r - 1, 1));
      for (;;) {
        if (contiguous) {
          for (let j = 0; j < L; j++) { ${loads((i) => `p${i + 1} + j`)} out[p0 + j] = ${expr}; }
        } else {
          for (let j = 0; j < L; j++) { ${loads((i) => `p${i + 1} + j * s${i + 1}`)} out[p0 + j * s0] = ${expr}; }
        }
        let d = r - 2;
        for (; d >= 0; d--) {
          idx[d]++;
          p0 += strides[0][d]; ${names.map((_, i) => `p${i + 1} += strides[${i + 1}][d];`).join(' ')}
          if (idx[d] < dims[d]) break;
          const n = dims[d];
          p0 -= strides[0][d] * n; ${names.map((_, i) => `p${i + 1} -= strides[${i + 1}][d] * n;`).join(' ')}
          idx[d] = 0;
        }
        if (d < 0) return;
      }
    };`;
  k = new Function('erf', src)(erf) as StridedKernel;
  cache.set(key, k);
  return k;
}
