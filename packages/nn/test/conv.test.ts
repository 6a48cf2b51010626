/**
 * The convolution layers against naive loops (helpers.ts): Conv2d and ConvTranspose2d over
 * generated geometries (stride, padding, dilation, groups, output padding), and the 1-D layers as
 * the height-1 case of the same references. Also shapes and initialization bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator } from '@simplex-vq/tensor';
import { Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d } from '../src/index.js';
import { expectClose, flat, randT, refConv2d, refConvTranspose2d } from './helpers.js';

const geomArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  groups: fc.integer({ min: 1, max: 2 }),
  cPerGroup: fc.integer({ min: 1, max: 2 }),
  oPerGroup: fc.integer({ min: 1, max: 2 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 2 }),
  sw: fc.integer({ min: 1, max: 2 }),
  ph: fc.integer({ min: 0, max: 1 }),
  pw: fc.integer({ min: 0, max: 1 }),
  dh: fc.integer({ min: 1, max: 2 }),
  dw: fc.integer({ min: 1, max: 2 }),
  extraH: fc.integer({ min: 0, max: 3 }),
  extraW: fc.integer({ min: 0, max: 3 }),
  bias: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1000 }),
});

describe('Conv2d', () => {
  it('matches the naive loops over generated geometries', () => {
    fc.assert(
      fc.property(geomArb, (g) => {
        const c = g.groups * g.cPerGroup, o = g.groups * g.oPerGroup;
        const h = Math.max(1, g.dh * (g.kh - 1) + 1 - 2 * g.ph) + g.extraH;
        const w = Math.max(1, g.dw * (g.kw - 1) + 1 - 2 * g.pw) + g.extraW;
        const layer = new Conv2d(c, o, [g.kh, g.kw], {
          stride: [g.sh, g.sw], padding: [g.ph, g.pw], dilation: [g.dh, g.dw], groups: g.groups, bias: g.bias,
          generator: new Generator(g.seed),
        });
        const x = randT([g.n, c, h, w], g.seed + 1);
        const y = layer.forward(x);
        const ref = refConv2d(flat(x), flat(layer.weight), layer.bias ? flat(layer.bias) : null, {
          n: g.n, c, h, w, o, kh: g.kh, kw: g.kw, stride: [g.sh, g.sw], pad: [g.ph, g.pw], dil: [g.dh, g.dw], groups: g.groups,
        });
        expect(y.shape).toEqual([g.n, o, ref.oh, ref.ow]);
        expectClose(flat(y), ref.out);
      }),
      { numRuns: 60 },
    );
  });

  it('a 3×3 kernel on a hand-computed example', () => {
    const layer = new Conv2d(1, 1, 3, { padding: 1, bias: false });
    layer.weight.assign(randT([1, 1, 3, 3], 0).mul(0).add(1)); // all ones: a box sum
    const x = randT([1, 1, 3, 3], 1).mul(0).add(1);
    // Each output is the number of in-bounds neighbours (incl. itself): corners 4, edges 6, centre 9.
    expect(flat(layer.forward(x))).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
  });
});

describe('ConvTranspose2d', () => {
  it('matches the scatter loops over generated geometries', () => {
    fc.assert(
      fc.property(geomArb, fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), (g, oph, opw) => {
        const c = g.groups * g.cPerGroup, o = g.groups * g.oPerGroup;
        const outPad: [number, number] = [Math.min(oph, Math.max(g.sh, g.dh) - 1), Math.min(opw, Math.max(g.sw, g.dw) - 1)];
        const h = 1 + (g.extraH % 3), w = 1 + (g.extraW % 3);
        // Output size must stay ≥ 1: limit the padding.
        const ph = Math.min(g.ph, Math.floor(((h - 1) * g.sh + g.dh * (g.kh - 1) + outPad[0]) / 2));
        const pw = Math.min(g.pw, Math.floor(((w - 1) * g.sw + g.dw * (g.kw - 1) + outPad[1]) / 2));
        const layer = new ConvTranspose2d(c, o, [g.kh, g.kw], {
          stride: [g.sh, g.sw], padding: [ph, pw], dilation: [g.dh, g.dw], outputPadding: outPad, groups: g.groups, bias: g.bias,
          generator: new Generator(g.seed),
        });
        expect(layer.weight.shape).toEqual([c, g.oPerGroup, g.kh, g.kw]);
        const x = randT([g.n, c, h, w], g.seed + 2);
        const y = layer.forward(x);
        const ref = refConvTranspose2d(flat(x), flat(layer.weight), layer.bias ? flat(layer.bias) : null, {
          n: g.n, c, h, w, o, kh: g.kh, kw: g.kw, stride: [g.sh, g.sw], pad: [ph, pw], dil: [g.dh, g.dw], groups: g.groups, outPad,
        });
        expect(y.shape).toEqual([g.n, o, ref.oh, ref.ow]);
        expectClose(flat(y), ref.out);
      }),
      { numRuns: 60 },
    );
  });

  it('a stride-2 upsampling doubles the size', () => {
    const layer = new ConvTranspose2d(3, 2, 4, { stride: 2, padding: 1 });
    expect(layer.forward(randT([1, 3, 5, 7], 0)).shape).toEqual([1, 2, 10, 14]);
  });
});

describe('Conv1d and ConvTranspose1d', () => {
  it('Conv1d (with groups) equals the 2-D reference at height 1', () => {
    fc.assert(
      fc.property(geomArb, (g) => {
        const c = g.groups * g.cPerGroup, o = g.groups * g.oPerGroup;
        const len = Math.max(1, g.dw * (g.kw - 1) + 1 - 2 * g.pw) + g.extraW;
        const layer = new Conv1d(c, o, g.kw, { stride: g.sw, padding: g.pw, dilation: g.dw, groups: g.groups, bias: g.bias, generator: new Generator(g.seed) });
        expect(layer.weight.shape).toEqual([o, g.cPerGroup, g.kw]);
        const x = randT([g.n, c, len], g.seed + 3);
        const y = layer.forward(x);
        const ref = refConv2d(flat(x), flat(layer.weight), layer.bias ? flat(layer.bias) : null, {
          n: g.n, c, h: 1, w: len, o, kh: 1, kw: g.kw, stride: [1, g.sw], pad: [0, g.pw], dil: [1, g.dw], groups: g.groups,
        });
        expect(y.shape).toEqual([g.n, o, ref.ow]);
        expectClose(flat(y), ref.out);
      }),
      { numRuns: 40 },
    );
  });

  it('ConvTranspose1d equals the 2-D scatter reference at height 1', () => {
    const layer = new ConvTranspose1d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, generator: new Generator(3) });
    const x = randT([2, 4, 5], 4);
    const y = layer.forward(x);
    const ref = refConvTranspose2d(flat(x), flat(layer.weight), flat(layer.bias!), {
      n: 2, c: 4, h: 1, w: 5, o: 6, kh: 1, kw: 3, stride: [1, 2], pad: [0, 1], dil: [1, 1], groups: 2, outPad: [0, 1],
    });
    expect(y.shape).toEqual([2, 6, 10]);
    expectClose(flat(y), ref.out);
  });

  it('a depthwise Conv1d (groups = channels) mixes no channels', () => {
    const layer = new Conv1d(3, 3, 1, { groups: 3, bias: false });
    const x = randT([1, 3, 4], 5);
    const y = flat(layer.forward(x));
    const w = flat(layer.weight), xs = flat(x);
    expectClose(y, xs.map((v, i) => v * w[Math.floor(i / 4)]!));
  });
});

describe('convolution layers: options and init', () => {
  it('refuses groups that do not divide the channels', () => {
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups = 2 must divide/);
    expect(() => new Conv1d(4, 3, 3, { groups: 2 })).toThrow(/groups = 2 must divide/);
  });

  it('initializes weight and bias within ±1/√fanIn (PyTorch default)', () => {
    const layer = new Conv2d(4, 8, 3, { groups: 2, generator: new Generator(0) });
    const bound = 1 / Math.sqrt(2 * 9); // fanIn = in/groups · k·k
    const w = flat(layer.weight), b = flat(layer.bias!);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    const t = new ConvTranspose2d(4, 6, 3, { groups: 2, generator: new Generator(0) });
    const tBound = 1 / Math.sqrt(3 * 9); // PyTorch's fanIn of [in, out/groups, k, k] is (out/groups)·k·k
    expect(Math.max(...flat(t.weight).map(Math.abs))).toBeLessThanOrEqual(tBound);
    expect(Math.max(...flat(t.weight).map(Math.abs))).toBeGreaterThan(0.85 * tBound);
  });

  it('the same generator seed gives the same layer', () => {
    const a = new Conv2d(2, 3, 3, { generator: new Generator(9) });
    const b = new Conv2d(2, 3, 3, { generator: new Generator(9) });
    expect(flat(a.weight)).toEqual(flat(b.weight));
    expect(flat(a.bias!)).toEqual(flat(b.bias!));
  });
});
