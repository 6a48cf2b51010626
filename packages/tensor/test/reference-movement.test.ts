/**
 * Forward values of the data-movement ops, transposed convolutions and batched matmul against
 * index-by-index references. (Gradient checks only prove that a vjp matches its forward; these
 * prove the forward itself.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  broadcastTo, cat, conv1d, convTranspose1d, convTranspose2d, expand, matmul, mm, pad, permute, reshape, slice, stack, transpose,
} from '../src/index.js';
import { T, broadcastShapesArb, dimArb, expectClose, f32, ravel, shapeArb, size, specOf, unravel, valuesArb, type Spec } from './helpers.js';

const specF32 = (shape: number[]) => specOf(shape, (n) => valuesArb(n).map(f32));

/** out[f] = x[at(index of f)], for every f of outShape. */
const gatherRef = (x: Spec, outShape: readonly number[], at: (idx: number[]) => number[]) =>
  Array.from({ length: size(outShape) }, (_, f) => x.values[ravel(at(unravel(f, outShape)), x.shape)]!);

/** permute(x, perm) index by index: out[idx] = x[src] with src[perm[i]] = idx[i]. */
const permuteRef = (x: Spec, perm: readonly number[]) =>
  gatherRef(x, perm.map((p) => x.shape[p]!), (idx) => {
    const src = new Array<number>(idx.length);
    perm.forEach((p, i) => (src[p] = idx[i]!));
    return src;
  });

describe('movement ops agree with index-by-index references', () => {
  it('permute and transpose', () => {
    const arb = shapeArb(1, 4, 3).chain((shape) => {
      const axes = shape.map((_, i) => i);
      return fc.record({
        s: specF32(shape),
        perm: fc.shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length }),
        d0: fc.integer({ min: 0, max: shape.length - 1 }),
        d1: fc.integer({ min: 0, max: shape.length - 1 }),
      });
    });
    fc.assert(
      fc.property(arb, ({ s, perm, d0, d1 }) => {
        const y = permute(T(s), perm);
        const outShape = perm.map((p) => s.shape[p]!);
        expect(y.shape).toEqual(outShape);
        expect(Array.from(y.data())).toEqual(permuteRef(s, perm));
        const swap = s.shape.map((_, i) => (i === d0 ? d1 : i === d1 ? d0 : i));
        const t = transpose(T(s), d0, d1);
        expect(t.shape).toEqual(swap.map((p) => s.shape[p]!));
        expect(Array.from(t.data())).toEqual(Array.from(permute(T(s), swap).data()));
      }),
      { numRuns: 30 },
    );
  });

  it('reshape keeps the row-major order', () => {
    const arb = shapeArb(1, 4, 3).chain((shape) =>
      fc.record({ s: specF32(shape), target: fc.shuffledSubarray(shape, { minLength: shape.length, maxLength: shape.length }) }),
    );
    fc.assert(
      fc.property(arb, ({ s, target }) => {
        const y = reshape(T(s), target);
        expect(y.shape).toEqual(target);
        expect(Array.from(y.data())).toEqual(s.values);
        expect(T(s).flatten().shape).toEqual([size(s.shape)]);
      }),
      { numRuns: 30 },
    );
  });

  it('broadcastTo and expand', () => {
    const arb = broadcastShapesArb(2, 4, 3).chain(({ out, shapes: [sx] }) => fc.record({ out: fc.constant(out), s: specF32(sx!) }));
    fc.assert(
      fc.property(arb, ({ out, s }) => {
        const expected = gatherRef(s, out, (idx) => {
          const lead = idx.length - s.shape.length;
          return s.shape.map((d, i) => (d === 1 ? 0 : idx[i + lead]!));
        });
        const y = broadcastTo(T(s), out);
        expect(y.shape).toEqual(out);
        expect(Array.from(y.data())).toEqual(expected);
        const lead = out.length - s.shape.length;
        const e = expand(T(s), out.map((d, i) => (i >= lead && s.shape[i - lead] === d ? -1 : d)));
        expect(e.shape).toEqual(out);
        expect(Array.from(e.data())).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('slice follows Python slicing (negative and out-of-range bounds, steps)', () => {
    const arb = shapeArb(1, 3, 5).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) => {
        const n = shape[axis]!;
        return fc.record({
          s: specF32(shape),
          axis: fc.constant(axis),
          start: fc.integer({ min: -n - 2, max: n + 2 }),
          end: fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: undefined }),
          step: fc.integer({ min: 1, max: 4 }),
        });
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis, start, end, step }) => {
        const n = s.shape[axis]!;
        // Python: range(*slice(start, end, step).indices(n))
        const clip = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
        const picked: number[] = [];
        for (let i = clip(start); i < clip(end ?? n); i += step) picked.push(i);
        const outShape = s.shape.map((d, i) => (i === axis ? picked.length : d));
        const y = slice(T(s), axis, start, end, step);
        expect(y.shape).toEqual(outShape);
        expect(Array.from(y.data())).toEqual(gatherRef(s, outShape, (idx) => idx.map((v, d) => (d === axis ? picked[v]! : v))));
      }),
      { numRuns: 40 },
    );
  });

  it('permute and slice that keep the last axis whole (its lines are copied as runs)', () => {
    // A last axis of ≥ 32 that stays last and contiguous is copied a line at a time with set;
    // the outer axes are counted by hand. Zero-sized outer axes included.
    const arb = fc
      .record({ outer: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }), run: fc.integer({ min: 32, max: 70 }) })
      .chain(({ outer, run }) => {
        const shape = [...outer, run];
        const axes = outer.map((_, i) => i);
        return fc.record({
          s: specF32(shape),
          perm: fc.shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length }),
          axis: fc.integer({ min: 0, max: outer.length - 1 }),
          start: fc.integer({ min: 0, max: 3 }),
          step: fc.integer({ min: 1, max: 2 }),
        });
      });
    fc.assert(
      fc.property(arb, ({ s, perm, axis, start, step }) => {
        const last = s.shape.length - 1;
        const p = [...perm, last];
        const outShape = p.map((a) => s.shape[a]!);
        const y = permute(T(s), p);
        expect(y.shape).toEqual(outShape);
        expect(Array.from(y.data())).toEqual(permuteRef(s, p));
        const n = s.shape[axis]!, picked: number[] = [];
        for (let i = Math.min(start, n); i < n; i += step) picked.push(i);
        const sliced = slice(T(s), axis, start, undefined, step);
        const slicedShape = s.shape.map((d, i) => (i === axis ? picked.length : d));
        expect(sliced.shape).toEqual(slicedShape);
        expect(Array.from(sliced.data())).toEqual(gatherRef(s, slicedShape, (idx) => idx.map((v, d) => (d === axis ? picked[v]! : v))));
      }),
      { numRuns: 60 },
    );
  });

  it('pad writes the input at the offsets and fills the rest', () => {
    const arb = shapeArb(1, 3, 3).chain((shape) =>
      fc.record({
        s: specF32(shape),
        pads: fc.integer({ min: 1, max: shape.length }).chain((k) => fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2 * k, maxLength: 2 * k })),
        value: fc.constantFrom(0, -1.5, 7),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, pads, value }) => {
        const rank = s.shape.length;
        const before = s.shape.map((_, d) => (rank - 1 - d < pads.length / 2 ? pads[2 * (rank - 1 - d)]! : 0));
        const after = s.shape.map((_, d) => (rank - 1 - d < pads.length / 2 ? pads[2 * (rank - 1 - d) + 1]! : 0));
        const outShape = s.shape.map((d, i) => d + before[i]! + after[i]!);
        const expected = Array.from({ length: size(outShape) }, (_, f) => {
          const idx = unravel(f, outShape).map((v, d) => v - before[d]!);
          return idx.every((v, d) => v >= 0 && v < s.shape[d]!) ? s.values[ravel(idx, s.shape)]! : value;
        });
        const y = pad(T(s), pads, value);
        expect(y.shape).toEqual(outShape);
        expect(Array.from(y.data())).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('cat and stack', () => {
    const arb = shapeArb(1, 3, 3).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.record({
          axis: fc.constant(axis),
          parts: fc.array(dimArb(3).chain((len) => specF32(shape.map((d, i) => (i === axis ? len : d)))), { minLength: 1, maxLength: 4 }),
          same: fc.array(specF32(shape), { minLength: 1, maxLength: 3 }),
          newAxis: fc.integer({ min: 0, max: shape.length }),
        }),
      ),
    );
    fc.assert(
      fc.property(arb, ({ axis, parts, same, newAxis }) => {
        const y = cat(parts.map((p) => T(p)), axis);
        const offsets = parts.map((_, i) => parts.slice(0, i).reduce((a, p) => a + p.shape[axis]!, 0));
        const outShape = parts[0]!.shape.map((d, i) => (i === axis ? offsets[parts.length - 1]! + parts[parts.length - 1]!.shape[axis]! : d));
        expect(y.shape).toEqual(outShape);
        const expected = Array.from({ length: size(outShape) }, (_, f) => {
          const idx = unravel(f, outShape);
          let k = parts.length - 1;
          while (offsets[k]! > idx[axis]!) k--;
          const local = idx.map((v, d) => (d === axis ? v - offsets[k]! : v));
          return parts[k]!.values[ravel(local, parts[k]!.shape)]!;
        });
        expect(Array.from(y.data())).toEqual(expected);

        const st = stack(same.map((p) => T(p)), newAxis);
        const stShape = [...same[0]!.shape.slice(0, newAxis), same.length, ...same[0]!.shape.slice(newAxis)];
        expect(st.shape).toEqual(stShape);
        const expectedSt = Array.from({ length: size(stShape) }, (_, f) => {
          const idx = unravel(f, stShape);
          const which = idx[newAxis]!;
          const local = idx.filter((_, d) => d !== newAxis);
          return same[which]!.values[ravel(local, same[which]!.shape)]!;
        });
        expect(Array.from(st.data())).toEqual(expectedSt);
      }),
      { numRuns: 30 },
    );
  });
});

describe('batched matmul and mm agree with a naive reference', () => {
  it('broadcast batch axes, transposed operands', () => {
    const arb = fc
      .tuple(broadcastShapesArb(2, 2, 3), dimArb(4), dimArb(4), dimArb(4), fc.boolean(), fc.boolean())
      .chain(([{ out, shapes: [ba, bb] }, m, k, n, transA, transB]) =>
        fc.record({
          batch: fc.constant(out),
          dims: fc.constant({ m, k, n, transA, transB }),
          a: specF32([...ba!, ...(transA ? [k, m] : [m, k])]),
          b: specF32([...bb!, ...(transB ? [n, k] : [k, n])]),
        }),
      );
    fc.assert(
      fc.property(arb, ({ batch, dims: { m, k, n, transA, transB }, a, b }) => {
        const outShape = [...batch, m, n];
        const read = (s: Spec, bIdx: number[], r: number, c: number) => {
          const own = s.shape.slice(0, -2);
          const lead = bIdx.length - own.length;
          return s.values[ravel([...own.map((d, i) => (d === 1 ? 0 : bIdx[i + lead]!)), r, c], s.shape)]!;
        };
        const expected = Array.from({ length: size(outShape) }, (_, f) => {
          const idx = unravel(f, outShape);
          const bIdx = idx.slice(0, -2), i = idx[idx.length - 2]!, j = idx[idx.length - 1]!;
          let acc = 0;
          for (let p = 0; p < k; p++) acc += (transA ? read(a, bIdx, p, i) : read(a, bIdx, i, p)) * (transB ? read(b, bIdx, j, p) : read(b, bIdx, p, j));
          return acc;
        });
        const y = mm(T(a), T(b), transA, transB);
        expect(y.shape).toEqual(outShape);
        expectClose(y.data(), expected, 1e-5, 1e-5, 'mm');
        if (!transA && !transB) expectClose(matmul(T(a), T(b)).data(), expected, 1e-5, 1e-5, 'matmul');
      }),
      { numRuns: 30 },
    );
  });
});

/**
 * convTranspose2d by its definition: every input pixel scatters x·w into the output at
 * (i·stride − padding + k·dilation), for the output channels of its group.
 */
function naiveConvTranspose2d(
  x: Spec, w: Spec, bias: number[] | null,
  [sh, sw]: number[], [ph, pw]: number[], [dh, dw]: number[], [oph, opw]: number[], groups: number,
): { shape: number[]; values: number[] } {
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [, Cog, KH, KW] = w.shape as [number, number, number, number];
  const Cig = Cin / groups, Cout = Cog * groups;
  const OH = (H - 1) * sh! - 2 * ph! + dh! * (KH - 1) + oph! + 1;
  const OW = (W - 1) * sw! - 2 * pw! + dw! * (KW - 1) + opw! + 1;
  const out = new Array<number>(N * Cout * OH * OW).fill(0);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      for (let p = 0; p < OH * OW; p++) out[(n * Cout + co) * OH * OW + p] = bias ? bias[co]! : 0;
    }
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / Cig);
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const xv = x.values[((n * Cin + ci) * H + iy) * W + ix]!;
          for (let col = 0; col < Cog; col++) {
            for (let ky = 0; ky < KH; ky++) {
              for (let kx = 0; kx < KW; kx++) {
                const oy = iy * sh! - ph! + ky * dh!, ox = ix * sw! - pw! + kx * dw!;
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                out[((n * Cout + g * Cog + col) * OH + oy) * OW + ox] += xv * w.values[((ci * Cog + col) * KH + ky) * KW + kx]!;
              }
            }
          }
        }
      }
    }
  }
  return { shape: [N, Cout, OH, OW], values: out };
}

const tAxisArb = fc
  .record({ k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), d: fc.integer({ min: 1, max: 2 }), size: fc.integer({ min: 1, max: 4 }), pWish: fc.integer({ min: 0, max: 2 }), opWish: fc.integer({ min: 0, max: 2 }) })
  .map(({ k, s, d, size, pWish, opWish }) => {
    const op = Math.min(opWish, Math.max(s, d) - 1);
    const p = Math.min(pWish, Math.floor(((size - 1) * s + d * (k - 1) + op) / 2));
    return { k, s, d, size, p, op };
  });

describe('transposed and 1-D convolutions agree with naive references', () => {
  it('convTranspose2d: stride, padding, dilation, outputPadding, groups, bias', () => {
    const arb = fc
      .record({ n: dimArb(2), groups: dimArb(2), cig: dimArb(2), cog: dimArb(2), h: tAxisArb, w: tAxisArb, withBias: fc.boolean() })
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          x: specF32([c.n, c.groups * c.cig, c.h.size, c.w.size]),
          w: specF32([c.groups * c.cig, c.cog, c.h.k, c.w.k]),
          b: valuesArb(c.groups * c.cog).map(f32),
        }),
      );
    fc.assert(
      fc.property(arb, ({ c, x, w, b }) => {
        const stride: [number, number] = [c.h.s, c.w.s], padding: [number, number] = [c.h.p, c.w.p];
        const dilation: [number, number] = [c.h.d, c.w.d], outputPadding: [number, number] = [c.h.op, c.w.op];
        const y = convTranspose2d(T(x), T(w), c.withBias ? T({ shape: [b.length], values: b }) : null, { stride, padding, dilation, outputPadding, groups: c.groups });
        const ref = naiveConvTranspose2d(x, w, c.withBias ? b : null, stride, padding, dilation, outputPadding, c.groups);
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.data(), ref.values, 1e-5, 1e-5, 'convTranspose2d');
      }),
      { numRuns: 30 },
    );
  });

  it('conv1d and convTranspose1d equal their 2-D forms with height 1', () => {
    const arb = fc
      .record({ groups: dimArb(2), cig: dimArb(2), cog: dimArb(2), l: tAxisArb })
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          x: specF32([2, c.groups * c.cig, c.l.size + c.l.d * (c.l.k - 1)]),
          wConv: specF32([c.groups * c.cog, c.cig, c.l.k]),
          wT: specF32([c.groups * c.cig, c.cog, c.l.k]),
        }),
      );
    fc.assert(
      fc.property(arb, ({ c, x, wConv, wT }) => {
        const [N, C, L] = x.shape as [number, number, number];
        // conv1d against a direct 1-D loop.
        const y = conv1d(T(x), T(wConv), null, { stride: c.l.s, padding: c.l.p, dilation: c.l.d, groups: c.groups });
        const OL = Math.floor((L + 2 * c.l.p - c.l.d * (c.l.k - 1) - 1) / c.l.s) + 1;
        const O = c.groups * c.cog;
        const expected: number[] = [];
        for (let n = 0; n < N; n++) {
          for (let o = 0; o < O; o++) {
            const g = Math.floor(o / c.cog);
            for (let ol = 0; ol < OL; ol++) {
              let acc = 0;
              for (let ci = 0; ci < c.cig; ci++) {
                for (let kk = 0; kk < c.l.k; kk++) {
                  const il = ol * c.l.s - c.l.p + kk * c.l.d;
                  if (il >= 0 && il < L) acc += x.values[(n * C + g * c.cig + ci) * L + il]! * wConv.values[(o * c.cig + ci) * c.l.k + kk]!;
                }
              }
              expected.push(acc);
            }
          }
        }
        expect(y.shape).toEqual([N, O, OL]);
        expectClose(y.data(), expected, 1e-5, 1e-5, 'conv1d');
        // convTranspose1d against the 2-D reference of height 1.
        const t = convTranspose1d(T(x), T(wT), null, { stride: c.l.s, padding: c.l.p, dilation: c.l.d, outputPadding: c.l.op, groups: c.groups });
        const ref = naiveConvTranspose2d(
          { shape: [N, C, 1, L], values: x.values },
          { shape: [...wT.shape.slice(0, 2), 1, c.l.k], values: wT.values },
          null, [1, c.l.s], [0, c.l.p], [1, c.l.d], [0, c.l.op], c.groups,
        );
        expect(t.shape).toEqual([ref.shape[0], ref.shape[1], ref.shape[3]]);
        expectClose(t.data(), ref.values, 1e-5, 1e-5, 'convTranspose1d');
      }),
      { numRuns: 30 },
    );
  });
});
