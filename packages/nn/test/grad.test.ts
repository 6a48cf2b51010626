/**
 * A gradient check of every layer: the analytic gradient (backward) with respect to the input and
 * every parameter against float64 central differences (gradCheck), through functionalCall.
 * Parameters get random values first, so zero-initialized biases cannot hide a bug.
 */
import { describe, it } from 'vitest';
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import {
  Conv1d,
  Conv2d,
  ConvTranspose1d,
  ConvTranspose2d,
  Dropout,
  Embedding,
  Flatten,
  GELU,
  GroupNorm,
  Identity,
  LayerNorm,
  Linear,
  MultiheadSelfAttention,
  ReLU,
  ResidualBlock,
  Sequential,
  SiLU,
  Sigmoid,
  Tanh,
  TransformerEncoderLayer,
  type Module,
} from '../src/index.js';
import { expectModuleGrad, randT } from './helpers.js';

type Fwd = { forward(x: Tensor): Tensor };

function randomize(m: Module, seed: number, scale = 0.5): void {
  m.namedParameters().forEach(([, p], i) => p.assign(randT([...p.shape], seed + 100 * i, scale)));
}

/** The module's forward with every registered generator reset first, so each call draws the same masks. */
function replayingForward(m: Module, forward: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  const states = m.namedGenerators().map(([, g]) => [g, g.getState()] as const);
  return (x) => {
    for (const [g, s] of states) g.setState(s);
    return forward(x);
  };
}

const check = (m: Module & Fwd, shape: number[], seed = 1, opts = {}) => {
  randomize(m, seed);
  expectModuleGrad(m, [randT(shape, seed)], (x) => m.forward(x), opts);
};

describe('gradient checks', () => {
  const g = () => new Generator(0);

  it('Linear (2-D and 3-D input, with and without bias)', () => {
    check(new Linear(3, 2, { generator: g() }), [4, 3]);
    check(new Linear(3, 2, { bias: false, generator: g() }), [2, 2, 3]);
  });

  it('Conv1d (stride, padding, dilation, groups)', () => {
    check(new Conv1d(4, 2, 3, { stride: 2, padding: 1, dilation: 1, groups: 2, generator: g() }), [2, 4, 7]);
    check(new Conv1d(2, 3, 2, { dilation: 2, generator: g() }), [1, 2, 6]);
  });

  it('Conv2d (stride, padding, dilation, groups)', () => {
    check(new Conv2d(2, 4, [2, 3], { stride: [2, 1], padding: [1, 0], groups: 2, generator: g() }), [2, 2, 4, 5]);
    check(new Conv2d(1, 2, 2, { dilation: 2, bias: false, generator: g() }), [1, 1, 5, 4]);
  });

  it('ConvTranspose1d and ConvTranspose2d (stride, padding, output padding, groups)', () => {
    check(new ConvTranspose1d(2, 4, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, generator: g() }), [2, 2, 4]);
    check(new ConvTranspose2d(2, 3, [3, 2], { stride: 2, padding: [1, 0], outputPadding: [1, 0], generator: g() }), [1, 2, 3, 2]);
  });

  it('Embedding (gradient into the rows read, through int32 indices)', () => {
    const emb = new Embedding(5, 3, { paddingIdx: 1, generator: g() });
    expectModuleGrad(emb, [tensor(Int32Array.from([0, 3, 3, 1, 4]))], (idx) => emb.forward(idx));
  });

  it('LayerNorm and GroupNorm', () => {
    check(new LayerNorm(5), [3, 5], 2);
    check(new LayerNorm([2, 3]), [2, 2, 3], 3);
    check(new GroupNorm(2, 4), [2, 4, 3], 4);
    check(new GroupNorm(1, 3, { affine: false }), [2, 3, 2, 2], 5);
  });

  it('activations and Identity', () => {
    for (const act of [new Identity(), new ReLU(), new GELU(), new GELU({ approximate: 'tanh' }), new SiLU(), new Tanh(), new Sigmoid()]) {
      expectModuleGrad(act, [randT([3, 4], 6)], (x) => act.forward(x));
    }
  });

  it('Dropout (with its mask held fixed)', () => {
    const d = new Dropout(0.4, { seed: 3 });
    expectModuleGrad(d, [randT([4, 5], 7)], replayingForward(d, (x) => d.forward(x)));
  });

  it('Sequential with Flatten', () => {
    check(new Sequential(new Conv2d(1, 2, 2, { generator: g() }), new Tanh(), new Flatten(), new Linear(8, 2, { generator: g() })), [2, 1, 3, 3], 8);
  });

  it('MultiheadSelfAttention, plain, masked and causal', () => {
    const attn = new MultiheadSelfAttention(4, 2, { generator: g() });
    randomize(attn, 9);
    const x = randT([2, 3, 4], 9);
    expectModuleGrad(attn, [x], (x) => attn.forward(x), { maxElements: 24 });
    const mask = tensor(Int32Array.from([0, 0, 1, 0, 0, 0]), { shape: [2, 3] });
    expectModuleGrad(attn, [x], (x) => attn.forward(x, { keyPaddingMask: mask, isCausal: true }), { maxElements: 24 });
  });

  it('MultiheadSelfAttention with attention dropout (masks held fixed)', () => {
    const attn = new MultiheadSelfAttention(4, 2, { dropout: 0.3, generator: g() });
    randomize(attn, 10);
    expectModuleGrad(attn, [randT([1, 3, 4], 10)], replayingForward(attn, (x) => attn.forward(x)), { maxElements: 24 });
  });

  it('TransformerEncoderLayer (relu and gelu, dropout active, padding mask)', () => {
    for (const activation of ['relu', 'gelu'] as const) {
      const layer = new TransformerEncoderLayer(4, 2, 6, { activation, dropout: 0.2, generator: g() });
      randomize(layer, 11);
      const mask = tensor(Int32Array.from([0, 0, 1]), { shape: [1, 3] });
      expectModuleGrad(layer, [randT([1, 3, 4], 11)], replayingForward(layer, (x) => layer.forward(x, { keyPaddingMask: mask })), { maxElements: 16 });
    }
  });

  it('ResidualBlock (2-D plain, 1-D with GroupNorm and a projected shortcut)', () => {
    check(new ResidualBlock(2, 2, { hiddenChannels: 3, generator: g() }), [1, 2, 3, 3], 12, { maxElements: 30 });
    check(new ResidualBlock(2, 4, { dims: 1, norm: 'group', numGroups: 2, activation: 'gelu', generator: g() }), [2, 2, 4], 13, { maxElements: 30 });
  });
});
