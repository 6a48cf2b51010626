/**
 * Layers against hand-written references on tiny inputs: Linear, Embedding, LayerNorm, GroupNorm,
 * the activations, Dropout, Sequential, Flatten and the residual block.
 */
import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '@simplex-vq/tensor';
import {
  Conv2d,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  GroupNorm,
  Identity,
  LayerNorm,
  Linear,
  ModuleList,
  ReLU,
  ResidualBlock,
  Sequential,
  SiLU,
  Sigmoid,
  Tanh,
} from '../src/index.js';
import { expectClose, flat, randT, refConv2d, refGelu, refLayerNorm, refLinear, refStandardize } from './helpers.js';

describe('Linear', () => {
  it('computes x Wᵀ + b on 1-D, 2-D and 3-D inputs', () => {
    const layer = new Linear(3, 4, { generator: new Generator(0) });
    const w = flat(layer.weight), b = flat(layer.bias!);
    expect(layer.weight.shape).toEqual([4, 3]);
    for (const shape of [[3], [5, 3], [2, 5, 3]]) {
      const x = randT(shape, 1);
      const y = layer.forward(x);
      expect(y.shape).toEqual([...shape.slice(0, -1), 4]);
      expectClose(flat(y), refLinear(flat(x), w, b, 3, 4));
    }
  });

  it('without bias, and with a clear error on a wrong width', () => {
    const layer = new Linear(2, 2, { bias: false });
    expect(layer.bias).toBeNull();
    expect(layer.parameters()).toHaveLength(1);
    expect(() => layer.forward(randT([4, 3], 0))).toThrow(/expected input \[\.\.\., 2\], got \[4, 3\]/);
  });

  it('initializes within ±1/√inFeatures', () => {
    const layer = new Linear(16, 64, { generator: new Generator(2) });
    const w = flat(layer.weight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.24);
    expect(Math.max(...flat(layer.bias!).map(Math.abs))).toBeLessThanOrEqual(0.25);
  });
});

describe('Embedding', () => {
  it('looks up rows for indices of any shape', () => {
    const emb = new Embedding(5, 3, { generator: new Generator(0) });
    const w = flat(emb.weight);
    const idx = tensor(Int32Array.from([4, 0, 4, 2, 1, 3]), { shape: [2, 3] });
    const y = emb.forward(idx);
    expect(y.shape).toEqual([2, 3, 3]);
    expect(flat(y)).toEqual([4, 0, 4, 2, 1, 3].flatMap((i) => w.slice(i * 3, i * 3 + 3)));
  });

  it('the padding index gives zeros and gets no gradient; other rows accumulate theirs', () => {
    const emb = new Embedding(4, 2, { paddingIdx: 0, generator: new Generator(1) });
    expect(flat(emb.weight).slice(0, 2)).toEqual([0, 0]);
    const y = emb.forward(tensor(Int32Array.from([0, 2, 2, 3])));
    expect(flat(y).slice(0, 2)).toEqual([0, 0]);
    y.sum().backward();
    expect(flat(emb.weight.grad!)).toEqual([0, 0, 0, 0, 2, 2, 1, 1]);
  });

  it('refuses out-of-range and float indices', () => {
    const emb = new Embedding(3, 2);
    expect(() => emb.forward(tensor(Int32Array.from([3])))).toThrow(/index 3 is out of range for 3/);
    expect(() => emb.forward(tensor([1]))).toThrow(/int32/);
  });
});

describe('LayerNorm', () => {
  it('normalizes the last axis and applies the affine map', () => {
    const ln = new LayerNorm(4);
    ln.weight!.assign(tensor([1, 2, 0.5, -1]));
    ln.bias!.assign(tensor([0, 1, 2, 3]));
    const x = randT([3, 4], 0, 3);
    expectClose(flat(ln.forward(x)), refLayerNorm(flat(x), 4, [1, 2, 0.5, -1], [0, 1, 2, 3]), 1e-5, 1e-4);
  });

  it('normalizes over several trailing axes, and without affine parameters', () => {
    const ln = new LayerNorm([2, 3], { elementwiseAffine: false });
    expect(ln.parameters()).toHaveLength(0);
    const x = randT([2, 2, 3], 1);
    expectClose(flat(ln.forward(x)), refStandardize(flat(x), 6));
    expect(() => ln.forward(randT([2, 3, 2], 0))).toThrow(/does not end with normalizedShape \[2, 3\]/);
  });

  it('uses eps = 1e-5 (a constant row stays finite and maps to the bias)', () => {
    const ln = new LayerNorm(3);
    expect(flat(ln.forward(tensor([[5, 5, 5]])))).toEqual([0, 0, 0]);
  });
});

describe('GroupNorm', () => {
  it('normalizes each group of channels over channels and positions', () => {
    const gn = new GroupNorm(2, 4);
    gn.weight!.assign(tensor([1, -1, 2, 0.5]));
    gn.bias!.assign(tensor([0.1, 0.2, 0.3, 0.4]));
    const x = randT([2, 4, 3, 2], 2, 2);
    // Per sample, a group is 2 channels × 6 positions = 12 consecutive values.
    const z = refStandardize(flat(x), 12);
    const w = [1, -1, 2, 0.5], b = [0.1, 0.2, 0.3, 0.4];
    expectClose(flat(gn.forward(x)), z.map((v, i) => v * w[Math.floor(i / 6) % 4]! + b[Math.floor(i / 6) % 4]!));
  });

  it('rejects groups that do not divide the channels, and inputs of the wrong width', () => {
    expect(() => new GroupNorm(3, 4)).toThrow(/must divide/);
    expect(() => new GroupNorm(2, 4).forward(randT([1, 6, 2], 0))).toThrow(/expected input \[N, 4, \.\.\.\]/);
  });
});

describe('activations', () => {
  const xs = [-3, -1.5, -0.2, 0, 0.3, 1, 2.5];
  const x = tensor(xs);
  it('ReLU, Tanh, Sigmoid, SiLU', () => {
    expectClose(flat(new ReLU().forward(x)), xs.map((v) => Math.max(v, 0)));
    expectClose(flat(new Tanh().forward(x)), xs.map(Math.tanh));
    expectClose(flat(new Sigmoid().forward(x)), xs.map((v) => 1 / (1 + Math.exp(-v))));
    expectClose(flat(new SiLU().forward(x)), xs.map((v) => v / (1 + Math.exp(-v))));
  });

  it('GELU exact and tanh-approximated', () => {
    expectClose(flat(new GELU().forward(x)), xs.map(refGelu), 1e-6, 1e-5);
    const approx = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    expectClose(flat(new GELU({ approximate: 'tanh' }).forward(x)), xs.map(approx), 1e-6, 1e-5);
  });
});

describe('Dropout', () => {
  it('zeroes a fraction p and scales the rest by 1/(1 − p)', () => {
    const d = new Dropout(0.3, { seed: 0 });
    const y = flat(d.forward(randT([100, 100], 0).mul(0).add(1)));
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(zeros).toBeGreaterThan(0.28);
    expect(zeros).toBeLessThan(0.32);
    expect(new Set(y.filter((v) => v !== 0)).size).toBe(1);
    expect(y.find((v) => v !== 0)).toBeCloseTo(1 / 0.7, 6);
  });

  it('is the identity in eval mode and for p = 0; p = 1 drops everything', () => {
    const x = randT([10], 1);
    expect(new Dropout(0.5).eval().forward(x)).toBe(x);
    expect(new Dropout(0).forward(x)).toBe(x);
    expect(flat(new Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
    expect(() => new Dropout(1.5)).toThrow(/p must be in \[0, 1\]/);
  });

  it('is reproducible from its seed and its generator state; the gradient is the mask', () => {
    const x = randT([50], 2).requiresGrad_();
    const a = new Dropout(0.5, { seed: 7 }), b = new Dropout(0.5, { seed: 7 });
    const ya = a.forward(x);
    expect(flat(b.forward(x))).toEqual(flat(ya));
    const state = a.generator.getState();
    const next = flat(a.forward(x));
    expect(next).not.toEqual(flat(ya)); // a new mask each call
    a.generator.setState(state);
    expect(flat(a.forward(x))).toEqual(next);
    ya.sum().backward();
    expect(flat(x.grad!)).toEqual(flat(ya).map((v) => (v === 0 ? 0 : 2)));
  });

  it('registers its generator for checkpoints', () => {
    const model = new Sequential(new Linear(2, 2), new Dropout(0.1), new Dropout(0.2));
    expect(model.namedGenerators().map(([n]) => n)).toEqual(['1.generator', '2.generator']);
    const [g1, g2] = model.namedGenerators().map(([, g]) => g.getState());
    expect(g1).not.toEqual(g2); // seeded independently from the global generator
  });
});

describe('Sequential, ModuleList, Flatten, Identity', () => {
  it('Sequential chains its layers; Flatten keeps the batch axis', () => {
    const l1 = new Linear(6, 3, { generator: new Generator(0) });
    const seq = new Sequential(new Flatten(), l1, new ReLU(), new Identity());
    expect(seq.length).toBe(4);
    expect(seq.at(1)).toBe(l1);
    expect(seq.at(-1)).toBeInstanceOf(Identity);
    const x = randT([2, 2, 3], 1);
    expect(flat(seq.forward(x))).toEqual(flat(l1.forward(x.reshape([2, 6])).relu()));
    expect([...seq]).toHaveLength(4);
    expect(() => seq.at(4)).toThrow(/no module at 4/);
  });

  it('ModuleList holds modules by position', () => {
    const list = new ModuleList([new Linear(1, 1), new Linear(1, 1)]);
    list.append(new Linear(1, 2));
    expect(list.length).toBe(3);
    expect(list.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
  });
});

describe('ResidualBlock', () => {
  it('is x + conv1x1(relu(conv3x3(relu(x)))) (checked against the naive convolution)', () => {
    const block = new ResidualBlock(2, 2, { hiddenChannels: 3, generator: new Generator(0) });
    const x = randT([1, 2, 4, 4], 1);
    const relu = (v: number[]) => v.map((u) => Math.max(u, 0));
    const h = refConv2d(relu(flat(x)), flat(block.conv1.weight), flat(block.conv1.bias!), {
      n: 1, c: 2, h: 4, w: 4, o: 3, kh: 3, kw: 3, stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1,
    }).out;
    const y = refConv2d(relu(h), flat(block.conv2.weight), flat(block.conv2.bias!), {
      n: 1, c: 3, h: 4, w: 4, o: 2, kh: 1, kw: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 1,
    }).out;
    expectClose(flat(block.forward(x)), y.map((v, i) => v + flat(x)[i]!));
  });

  it('projects the shortcut when the channels change, works in 1-D, and with GroupNorm', () => {
    const block = new ResidualBlock(2, 4, { dims: 1, norm: 'group', activation: 'silu', generator: new Generator(1) });
    expect(block.shortcut).toBeInstanceOf(Object.getPrototypeOf(block.conv1).constructor);
    expect(block.namedParameters().map(([n]) => n)).toEqual([
      'norm1.weight', 'norm1.bias', 'conv1.weight', 'conv1.bias', 'norm2.weight', 'norm2.bias', 'conv2.weight', 'conv2.bias', 'shortcut.weight', 'shortcut.bias',
    ]);
    expect(block.forward(randT([2, 2, 7], 2)).shape).toEqual([2, 4, 7]);
    expect(new ResidualBlock(8, 8, { norm: 'group', numGroups: 4 }).norm1).toMatchObject({ numGroups: 4 });
    expect(() => new ResidualBlock(2, 2, { kernelSize: 2 })).toThrow(/odd/);
    expect(new ResidualBlock(2).conv1).toBeInstanceOf(Conv2d);
  });
});
