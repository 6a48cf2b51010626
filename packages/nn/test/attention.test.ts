/**
 * MultiheadSelfAttention against an explicit softmax(QKᵀ/√d)V (helpers.ts), with and without a
 * key padding mask and causality; TransformerEncoderLayer against the pre-norm formula built from
 * the same references.
 */
import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '@simplex-vq/tensor';
import { MultiheadSelfAttention, TransformerEncoderLayer } from '../src/index.js';
import { expectClose, flat, randT, refAttention, refGelu, refLayerNorm, refLinear } from './helpers.js';

function refOf(attn: MultiheadSelfAttention, x: number[], B: number, T: number, pad: number[][] | null, causal = false): number[] {
  return refAttention(
    x, B, T, attn.embedDim, attn.numHeads,
    flat(attn.inProjWeight), flat(attn.inProjBias!), flat(attn.outProj.weight), flat(attn.outProj.bias!),
    pad, causal,
  );
}

/** Gives every parameter random values (the zero-initialized biases would hide bias bugs). */
function randomize(m: { namedParameters(): Array<[string, import('@simplex-vq/tensor').Tensor]> }, seed: number): void {
  m.namedParameters().forEach(([, p], i) => p.assign(randT([...p.shape], seed + i, 0.5)));
}

describe('MultiheadSelfAttention', () => {
  it('equals softmax(QKᵀ/√d)V per head, then the output projection', () => {
    for (const [B, T, D, H] of [[1, 3, 4, 1], [2, 4, 6, 2], [2, 5, 8, 4]] as const) {
      const attn = new MultiheadSelfAttention(D, H, { generator: new Generator(B + T) });
      randomize(attn, 10);
      const x = randT([B, T, D], 3);
      const y = attn.forward(x);
      expect(y.shape).toEqual([B, T, D]);
      expectClose(flat(y), refOf(attn, flat(x), B, T, null));
    }
  });

  it('a key padding mask removes the padded keys (int32 or float mask)', () => {
    const attn = new MultiheadSelfAttention(4, 2, { generator: new Generator(1) });
    randomize(attn, 20);
    const x = randT([2, 4, 4], 4);
    const pad = [[0, 0, 1, 1], [0, 0, 0, 1]];
    const ref = refOf(attn, flat(x), 2, 4, pad);
    const asInt = tensor(Int32Array.from(pad.flat()), { shape: [2, 4] });
    expectClose(flat(attn.forward(x, { keyPaddingMask: asInt })), ref);
    expectClose(flat(attn.forward(x, { keyPaddingMask: tensor(pad) })), ref);
    expect(flat(attn.forward(x))).not.toEqual(flat(attn.forward(x, { keyPaddingMask: asInt })));
  });

  it('what is in padded positions cannot change the unpadded outputs', () => {
    const attn = new MultiheadSelfAttention(4, 2, { generator: new Generator(2) });
    const mask = tensor(Int32Array.from([0, 0, 1]), { shape: [1, 3] });
    const x1 = randT([1, 3, 4], 5);
    const x2 = x1.slice(1, 0, 2).reshape([1, 2, 4]);
    const junk = randT([1, 1, 4], 6, 100);
    const y1 = flat(attn.forward(x1, { keyPaddingMask: mask })).slice(0, 8);
    const y2 = flat(attn.forward(tensor([...flat(x2), ...flat(junk)], { shape: [1, 3, 4] }), { keyPaddingMask: mask })).slice(0, 8);
    expectClose(y2, y1, 1e-6, 1e-6);
  });

  it('isCausal attends to the past only, alone or with a padding mask', () => {
    const attn = new MultiheadSelfAttention(6, 3, { generator: new Generator(3) });
    randomize(attn, 30);
    const x = randT([2, 4, 6], 7);
    expectClose(flat(attn.forward(x, { isCausal: true })), refOf(attn, flat(x), 2, 4, null, true));
    const pad = [[0, 0, 0, 1], [0, 1, 1, 1]];
    expectClose(
      flat(attn.forward(x, { isCausal: true, keyPaddingMask: tensor(pad) })),
      refOf(attn, flat(x), 2, 4, pad, true),
    );
  });

  it('a fully padded row stays finite', () => {
    const attn = new MultiheadSelfAttention(4, 1);
    const y = flat(attn.forward(randT([1, 2, 4], 8), { keyPaddingMask: tensor([[1, 1]]) }));
    expect(y.every(Number.isFinite)).toBe(true);
  });

  it('initializes like PyTorch (xavier-uniform in-projection, zero biases) and checks shapes', () => {
    const attn = new MultiheadSelfAttention(8, 2, { generator: new Generator(4) });
    const bound = Math.sqrt(6 / (8 + 24));
    const w = flat(attn.inProjWeight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(flat(attn.inProjBias!).every((v) => v === 0)).toBe(true);
    expect(flat(attn.outProj.bias!).every((v) => v === 0)).toBe(true);
    expect(attn.namedParameters().map(([n]) => n)).toEqual(['inProjWeight', 'inProjBias', 'outProj.weight', 'outProj.bias']);
    expect(() => new MultiheadSelfAttention(6, 4)).toThrow(/divisible/);
    expect(() => attn.forward(randT([2, 3, 4], 0))).toThrow(/expected x \[B, T, 8\]/);
    expect(() => attn.forward(randT([2, 3, 8], 0), { keyPaddingMask: tensor([[0, 0]]) })).toThrow(/keyPaddingMask must be \[2, 3\]/);
  });

  it('dropout on the attention weights is active in training only', () => {
    const attn = new MultiheadSelfAttention(4, 2, { dropout: 0.5, generator: new Generator(5) });
    randomize(attn, 40);
    const x = randT([1, 3, 4], 9);
    expect(flat(attn.forward(x))).not.toEqual(flat(attn.forward(x)));
    attn.eval();
    expectClose(flat(attn.forward(x)), refOf(attn, flat(x), 1, 3, null));
  });
});

describe('TransformerEncoderLayer (pre-norm)', () => {
  it('is x + attn(LN1(x)), then + W2·act(W1·LN2(x) + b1) + b2', () => {
    for (const activation of ['relu', 'gelu'] as const) {
      const D = 4, T = 3, B = 2, F = 6;
      const layer = new TransformerEncoderLayer(D, 2, F, { dropout: 0, activation, generator: new Generator(6) });
      randomize(layer, 50);
      const x = randT([B, T, D], 10);
      const pad = [[0, 0, 1], [0, 0, 0]];
      const act = activation === 'relu' ? (v: number) => Math.max(v, 0) : refGelu;
      const xs = flat(x);
      const a = refOf(layer.selfAttn, refLayerNorm(xs, D, flat(layer.norm1.weight!), flat(layer.norm1.bias!)), B, T, pad);
      const h1 = xs.map((v, i) => v + a[i]!);
      const f = refLinear(
        refLinear(refLayerNorm(h1, D, flat(layer.norm2.weight!), flat(layer.norm2.bias!)), flat(layer.linear1.weight), flat(layer.linear1.bias!), D, F).map(act),
        flat(layer.linear2.weight), flat(layer.linear2.bias!), F, D,
      );
      const expected = h1.map((v, i) => v + f[i]!);
      expectClose(flat(layer.forward(x, { keyPaddingMask: tensor(pad) })), expected, 1e-5, 1e-4);
    }
  });

  it('has PyTorch\'s submodule names, and dropout only in training', () => {
    const layer = new TransformerEncoderLayer(4, 2, 8, { generator: new Generator(7) });
    expect(layer.namedChildren().map(([n]) => n)).toEqual(['selfAttn', 'linear1', 'dropout', 'linear2', 'norm1', 'norm2', 'dropout1', 'dropout2', 'activation']);
    expect(layer.dropout.p).toBe(0.1);
    const x = randT([1, 3, 4], 11);
    expect(flat(layer.forward(x))).not.toEqual(flat(layer.forward(x)));
    layer.eval();
    expect(flat(layer.forward(x))).toEqual(flat(layer.forward(x)));
    expect(layer.namedGenerators()).toHaveLength(4);
  });
});
