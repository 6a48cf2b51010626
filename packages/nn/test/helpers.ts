/**
 * Test helpers: a gradient check of a module (its inputs and every parameter), closeness
 * assertions on flat arrays, and naive float64 reference implementations written with plain loops
 * (the layers are tested against these, never against themselves).
 */
import { expect } from 'vitest';
import { Generator, gradCheck, tensor, type GradCheckOptions, type Tensor } from '@simplex-vq/tensor';
import { functionalCall, type Module } from '../src/index.js';

/** A float32 tensor of N(0, 1)·scale values from a seeded generator. */
export function randT(shape: number[], seed: number, scale = 1): Tensor {
  const g = new Generator(seed);
  return tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * g.normal()), { shape });
}

/** The values of a tensor as a plain float64 array. */
export const flat = (t: Tensor): number[] => Array.from(t.data());

/** |a − b| ≤ atol + rtol·|b| elementwise, with the first offender in the message. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`element ${i}: got ${a}, expected ${e} (|diff| = ${Math.abs(a - e)})`);
    }
  }
}

/**
 * gradCheck of `forward` with respect to the inputs and every parameter of `module`: the
 * parameters are passed in as extra inputs and swapped in with functionalCall.
 */
export function expectModuleGrad(
  module: Module,
  inputs: Tensor[],
  forward: (...xs: Tensor[]) => Tensor,
  opts: GradCheckOptions = {},
): void {
  const named = module.namedParameters();
  const result = gradCheck(
    (...all: Tensor[]) => {
      const swapped = Object.fromEntries(named.map(([n], i) => [n, all[inputs.length + i]!]));
      return functionalCall(module, swapped, () => forward(...all.slice(0, inputs.length)));
    },
    [...inputs, ...named.map(([, p]) => p)],
    opts,
  );
  expect(result.ok, result.message).toBe(true);
}

// --- references ---------------------------------------------------------------------------

/** y[r, o] = Σ_i x[r, i] w[o, i] + b[o], x as rows of length `inF`. */
export function refLinear(x: number[], w: number[], b: number[] | null, inF: number, outF: number): number[] {
  const rows = x.length / inF;
  const y = new Array<number>(rows * outF).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * w[o * inF + i]!;
      y[r * outF + o] = s;
    }
  }
  return y;
}

export interface Conv2dGeom {
  n: number; c: number; h: number; w: number; o: number; kh: number; kw: number;
  stride: [number, number]; pad: [number, number]; dil: [number, number]; groups: number;
}

/** Cross-correlation with stride, zero padding, dilation and groups, by its definition. */
export function refConv2d(x: number[], w: number[], b: number[] | null, g: Conv2dGeom): { out: number[]; oh: number; ow: number } {
  const { n, c, h, w: W, o, kh, kw, stride, pad, dil, groups } = g;
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((W + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1]) + 1;
  const cg = c / groups, og = o / groups;
  const out = new Array<number>(n * o * oh * ow).fill(0);
  for (let b0 = 0; b0 < n; b0++)
    for (let oc = 0; oc < o; oc++) {
      const grp = Math.floor(oc / og);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = b ? b[oc]! : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const y = i * stride[0] - pad[0] + p * dil[0];
                const xx = j * stride[1] - pad[1] + q * dil[1];
                if (y < 0 || y >= h || xx < 0 || xx >= W) continue;
                const cin = grp * cg + ci;
                s += x[((b0 * c + cin) * h + y) * W + xx]! * w[((oc * cg + ci) * kh + p) * kw + q]!;
              }
          out[((b0 * o + oc) * oh + i) * ow + j] = s;
        }
    }
  return { out, oh, ow };
}

export interface ConvT2dGeom extends Conv2dGeom {
  outPad: [number, number];
}

/**
 * Transposed convolution by scattering: every input pixel adds its value times the kernel onto
 * the output patch it maps to. Weight [c, o/groups, kh, kw]; `o` is the number of output channels.
 */
export function refConvTranspose2d(x: number[], w: number[], b: number[] | null, g: ConvT2dGeom): { out: number[]; oh: number; ow: number } {
  const { n, c, h, w: W, o, kh, kw, stride, pad, dil, groups, outPad } = g;
  const oh = (h - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + outPad[0] + 1;
  const ow = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + outPad[1] + 1;
  const cg = c / groups, og = o / groups;
  const out = new Array<number>(n * o * oh * ow).fill(0);
  for (let b0 = 0; b0 < n; b0++) {
    for (let oc = 0; oc < o; oc++) for (let k = 0; k < oh * ow; k++) out[(b0 * o + oc) * oh * ow + k] = b ? b[oc]! : 0;
    for (let ci = 0; ci < c; ci++) {
      const grp = Math.floor(ci / cg);
      for (let i = 0; i < h; i++)
        for (let j = 0; j < W; j++) {
          const v = x[((b0 * c + ci) * h + i) * W + j]!;
          for (let co = 0; co < og; co++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const y = i * stride[0] - pad[0] + p * dil[0];
                const xx = j * stride[1] - pad[1] + q * dil[1];
                if (y < 0 || y >= oh || xx < 0 || xx >= ow) continue;
                const oc = grp * og + co;
                out[((b0 * o + oc) * oh + y) * ow + xx]! += v * w[((ci * og + co) * kh + p) * kw + q]!;
              }
        }
    }
  }
  return { out, oh, ow };
}

/** Normalizes consecutive blocks of `size` values: (v − mean)/√(var + eps) (biased variance). */
export function refStandardize(x: number[], size: number, eps = 1e-5): number[] {
  const y = new Array<number>(x.length);
  for (let s = 0; s < x.length; s += size) {
    let mean = 0;
    for (let i = 0; i < size; i++) mean += x[s + i]!;
    mean /= size;
    let v = 0;
    for (let i = 0; i < size; i++) v += (x[s + i]! - mean) ** 2;
    v /= size;
    for (let i = 0; i < size; i++) y[s + i] = (x[s + i]! - mean) / Math.sqrt(v + eps);
  }
  return y;
}

/** LayerNorm over the last `d` values with scale and shift. */
export function refLayerNorm(x: number[], d: number, w: number[], b: number[], eps = 1e-5): number[] {
  return refStandardize(x, d, eps).map((v, i) => v * w[i % d]! + b[i % d]!);
}

/** Φ(x)·x with erf from a series precise to float64 (independent of the engine's erf). */
export function refGelu(x: number): number {
  return 0.5 * x * (1 + refErf(x / Math.SQRT2));
}

export function refErf(x: number): number {
  // Taylor series for |x| < 3, continued fraction beyond: both far below float32 precision here.
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x, sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/**
 * Multi-head self-attention by its definition: for every batch b and head h,
 * softmax(Q Kᵀ / √d + mask) V with explicit loops, then the output projection.
 * x [B, T, D]; inW [3D, D]; inB [3D]; outW [D, D]; outB [D]; pad[b][t] = 1 marks padded keys.
 */
export function refAttention(
  x: number[], B: number, T: number, D: number, H: number,
  inW: number[], inB: number[], outW: number[], outB: number[],
  pad: number[][] | null, causal = false,
): number[] {
  const d = D / H;
  const qkv = refLinear(x, inW, inB, D, 3 * D); // [B·T, 3D]
  const concat = new Array<number>(B * T * D).fill(0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const q = (t: number, k: number) => qkv[(b * T + t) * 3 * D + h * d + k]!;
        const key = (t: number, k: number) => qkv[(b * T + t) * 3 * D + D + h * d + k]!;
        const val = (t: number, k: number) => qkv[(b * T + t) * 3 * D + 2 * D + h * d + k]!;
        const scores: number[] = [];
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let k = 0; k < d; k++) s += q(i, k) * key(j, k);
          const masked = (pad && pad[b]![j]) || (causal && j > i);
          scores.push(masked ? -Infinity : s / Math.sqrt(d));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let k = 0; k < d; k++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += (e[j]! / z) * val(j, k);
          concat[(b * T + i) * D + h * d + k] = s;
        }
      }
  return refLinear(concat, outW, outB, D, D);
}
