/**
 * Source text of the gpu.js kernels, one generator per Backend primitive.
 *
 * Every kernel has a 1-D output (one thread per output element) and reads its inputs as flat
 * arrays. Shapes, strides and sizes are baked into the source as literals, so each distinct
 * signature compiles once (the backend caches kernels by their source) and loops have the
 * constant bounds GLSL requires.
 *
 * Index arithmetic runs in floats on GL targets: a flat index is split with
 * q = floor((i + 0.5) / d), which stays exact for indices below 2^23, well beyond the sizes a
 * texture holds.
 */

/** Number literal as kernel source; integers get a decimal point so GLSL sees floats throughout. */
export function lit(v: number): string {
  if (Number.isNaN(v)) return '(0.0 / 0.0)';
  if (v === Infinity) return '1e38 * 10.0';
  if (v === -Infinity) return '-1e38 * 10.0';
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * Statements that split the thread's flat index into coordinates c0..c{r-1} over `dims`
 * (row-major), as float variables.
 */
export function unravel(dims: readonly number[], flat = 'this.thread.x'): string {
  const r = dims.length;
  if (r === 0) return '';
  const lines = [`const f${r - 1} = ${flat} + 0.5 - 0.5;`];
  for (let d = r - 1; d > 0; d--) {
    lines.push(`const f${d - 1} = Math.floor((f${d} + 0.5) / ${lit(dims[d]!)});`);
    lines.push(`const c${d} = f${d} - f${d - 1} * ${lit(dims[d]!)};`);
  }
  lines.push('const c0 = f0;');
  return lines.join('\n  ');
}

/** Σ c_d · stride_d + offset, as a source expression. */
export function offsetExpr(strides: readonly number[], offset = 0): string {
  const terms = strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? `c${d}` : `c${d} * ${lit(s)}`]));
  if (offset !== 0 || terms.length === 0) terms.push(lit(offset));
  return terms.join(' + ');
}

export function kernel(params: readonly string[], body: string): string {
  return `function(${params.join(', ')}) {\n  ${body}\n}`;
}

/** erf for the kernels (gpu.js's Math has none); the same fit the CPU backend uses. */
export const ERF_SOURCE = `function erfApprox(x) {
  const z = Math.abs(x);
  const t = 1.0 / (1.0 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  const r0 = 1.0000000300000005;
  if (x >= 0.0) { return 1.0 - r / r0; }
  return r / r0 - 1.0;
}`;

/**
 * sin for the kernels: GL drivers' sin/cos (SwiftShader's, for one) are off by ~2e-4; range
 * reduction to [−π/2, π/2] and a Taylor polynomial to x¹³ keep the error near 1e-7 for small
 * |x|. The reduction runs in float32, so the error grows with |x| (~1e-3 at 1e4); NaN and ±Inf
 * give NaN.
 */
export const SIN_SOURCE = `function sinApprox(x) {
  const twoPi = 6.283185307179586;
  let r = x - Math.floor(x / twoPi + 0.5) * twoPi;
  // Past |x| ~ 1e7 float32 keeps no bits of the angle and r can be anything: pinned, so the result stays in [−1, 1].
  if (r > 4.0 || r < -4.0) { r = 0.0; }
  if (r > 1.5707963267948966) { r = 3.141592653589793 - r; }
  if (r < -1.5707963267948966) { r = -3.141592653589793 - r; }
  const r2 = r * r;
  return r * (1.0 - r2 / 6.0 * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0 * (1.0 - r2 / 110.0 * (1.0 - r2 / 156.0))))));
}`;

/*
 * The helpers below are the definitions of @simplex-vq/tensor's elementwise.ts written for GLSL,
 * where log and pow are only defined for positive arguments, and a driver's approximations need
 * not handle NaN, 0 or ±Inf (SwiftShader's log(0) is −88, its pow(NaN, 2) is Inf). Infinities and
 * NaN are made at run time from the arguments (GLSL has no literals for them: gpu.js writes
 * `Infinity` as the largest float). The parity suite checks them against the definitions.
 */

/** log: NaN for x < 0 and NaN, −Inf at ±0, Inf at Inf. */
export const LOG_SOURCE = `function logC(x) {
  if (x !== x) { return x; }
  if (x < 0.0) { const z = x - x; return z / z; }
  if (x === 0.0) { return -1.0 / Math.abs(x); }
  if (x > 3.4028234e38) { return x; }
  return Math.log(x);
}`;

/**
 * C's pow (torch.pow): 1 for x = 1 or y = ±0 (NaN included) and for x = −1, y = ±Inf; NaN for a
 * finite negative x and a non-integer y; the sign of x for odd integer y (−0 and −Inf included).
 */
export const POW_SOURCE = `function powC(x, y) {
  if (x === 1.0 || y === 0.0) { return 1.0; }
  if (x !== x || y !== y) { return x + y; }
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  let yInfinite = 0.0;
  if (ay > 3.4028234e38) { yInfinite = 1.0; }
  if (x === -1.0 && yInfinite > 0.5) { return 1.0; }
  let yInteger = 0.0;
  if (Math.floor(y) === y) { yInteger = 1.0; }
  if (x < 0.0 && ax <= 3.4028234e38 && yInteger < 0.5) { const z = y - y; return z / z; }
  let p = 0.0;
  if (ax === 0.0) {
    if (y < 0.0) { p = 1.0 / ax; }
  } else if (ax > 3.4028234e38) {
    if (y > 0.0) { p = ax; }
  } else if (yInfinite > 0.5) {
    if ((ax < 1.0 && y < 0.0) || (ax > 1.0 && y > 0.0)) { p = ay; }
  } else {
    p = Math.pow(ax, y);
  }
  if (yInteger > 0.5 && yInfinite < 0.5 && Math.floor(y * 0.5) * 2.0 !== y && (x < 0.0 || 1.0 / x < 0.0)) { return -p; }
  return p;
}`;
