/** Module and Parameter: registration, dotted names, modes, gradients, state dicts, functionalCall. */
import { describe, expect, it } from 'vitest';
import { Generator, ones, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import {
  Dropout,
  Linear,
  Module,
  ModuleError,
  Parameter,
  ReLU,
  Sequential,
  StateDictError,
  functionalCall,
} from '../src/index.js';
import { flat } from './helpers.js';

/** A block with a parameter, a buffer, a non-persistent buffer and two children. */
class Block extends Module {
  declare readonly scale: Tensor;
  declare readonly count: Tensor;
  declare readonly cache: Tensor;
  declare readonly fc: Linear;
  declare readonly drop: Dropout;

  constructor(g: Generator) {
    super();
    this.registerParameter('scale', new Parameter(ones([3])));
    this.registerBuffer('count', zeros([1]));
    this.registerBuffer('cache', zeros([2]), { persistent: false });
    this.registerModule('fc', new Linear(3, 3, { generator: g }));
    this.registerModule('drop', new Dropout(0.5, { seed: 1 }));
  }

  override forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc.forward(x.mul(this.scale)));
  }
}

describe('Parameter', () => {
  it('is a leaf that requires grad and shares the data', () => {
    const p = new Parameter(tensor([1, 2, 3]));
    expect(p.requiresGrad).toBe(true);
    expect(p.isLeaf).toBe(true);
    expect(flat(p)).toEqual([1, 2, 3]);
    expect(new Parameter(tensor([1]), false).requiresGrad).toBe(false);
  });

  it('refuses int32 data (no gradients for integers)', () => {
    expect(() => new Parameter(tensor(Int32Array.from([1, 2])))).toThrow(/float32/);
  });
});

describe('Module', () => {
  it('names parameters with dotted paths, in registration order', () => {
    const model = new Sequential(new Block(new Generator(0)), new ReLU(), new Linear(3, 2));
    expect(model.namedParameters().map(([n]) => n)).toEqual(['0.scale', '0.fc.weight', '0.fc.bias', '2.weight', '2.bias']);
    expect(model.parameters()).toHaveLength(5);
    expect(model.namedBuffers().map(([n]) => n)).toEqual(['0.count', '0.cache']);
    expect(model.namedModules().map(([n]) => n)).toEqual(['', '0', '0.fc', '0.drop', '1', '2']);
    expect(model.getSubmodule('0.fc')).toBeInstanceOf(Linear);
    expect(() => model.getSubmodule('0.nope')).toThrow(/no submodule "0.nope"/);
  });

  it('registered names are properties backed by the registry', () => {
    const b = new Block(new Generator(0));
    expect(b.scale).toBe(b.parameters()[0]);
    const replacement = new Parameter(zeros([3]));
    (b as unknown as { scale: Tensor }).scale = replacement;
    expect(b.parameters()[0]).toBe(replacement);
    expect(() => ((b as unknown as { scale: unknown }).scale = 3)).toThrow(ModuleError);
  });

  it('rejects bad and duplicate names', () => {
    class Bad extends Module {}
    const m = new Bad();
    m.registerParameter('w', null);
    expect(() => m.registerParameter('w', null)).toThrow(/already registered/);
    expect(() => m.registerBuffer('a.b', null)).toThrow(/invalid attribute name/);
    expect(() => m.registerModule('train', new ReLU())).toThrow(/already a property/);
    expect(m.parameters()).toEqual([]); // a null parameter is skipped
  });

  it('shared parameters are listed once', () => {
    const shared = new Linear(2, 2, { generator: new Generator(0) });
    const model = new Sequential(shared, shared);
    expect(model.parameters()).toHaveLength(2);
    expect(Object.keys(model.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
  });

  it('train() and eval() reach every descendant', () => {
    const model = new Sequential(new Block(new Generator(0)), new Linear(3, 1));
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    model.train();
    expect(model.modules().every((m) => m.training)).toBe(true);
  });

  it('zeroGrad clears every gradient', () => {
    const model = new Block(new Generator(0));
    model.eval();
    model.forward(tensor([[1, 2, 3]])).sum().backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('requiresGrad_(false) freezes the parameters', () => {
    const m = new Linear(2, 2, { generator: new Generator(0) }).requiresGrad_(false);
    expect(m.parameters().every((p) => !p.requiresGrad)).toBe(true);
  });

  it('forward of a module without one throws', () => {
    class Empty extends Module {}
    expect(() => (new Empty() as unknown as { forward(): unknown }).forward()).toThrow(/does not define forward/);
  });

  it('toString prints the tree', () => {
    const s = new Sequential(new Linear(2, 3), new ReLU()).toString();
    expect(s).toBe('Sequential(\n  (0): Linear(inFeatures=2, outFeatures=3, bias=true)\n  (1): ReLU()\n)');
  });
});

describe('stateDict / loadStateDict', () => {
  it('holds parameters and persistent buffers, as snapshots', () => {
    const b = new Block(new Generator(0));
    const sd = b.stateDict();
    expect(Object.keys(sd)).toEqual(['scale', 'count', 'fc.weight', 'fc.bias']);
    const before = flat(sd.scale!);
    b.scale.assign(tensor([7, 8, 9]));
    expect(flat(sd.scale!)).toEqual(before); // the snapshot did not move
    expect(sd.scale!.requiresGrad).toBe(false);
  });

  it('round-trips into a differently initialized module, in place', () => {
    const a = new Block(new Generator(1));
    a.count.assign(tensor([5]));
    const b = new Block(new Generator(2));
    const weight = b.fc.weight;
    expect(flat(b.fc.weight)).not.toEqual(flat(a.fc.weight));
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.fc.weight).toBe(weight); // same object: an optimizer holding it sees the new values
    for (const [k, v] of Object.entries(a.stateDict())) expect(flat(b.stateDict()[k]!)).toEqual(flat(v));
  });

  it('a shape mismatch names the key and both shapes, and changes nothing', () => {
    const m = new Sequential(new Linear(2, 3), new Linear(3, 1));
    const before = flat(m.at(0).parameters()[0]!);
    const sd = new Sequential(new Linear(2, 3), new Linear(4, 1)).stateDict();
    let err: unknown;
    try {
      m.loadStateDict(sd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect((err as StateDictError).key).toBe('1.weight');
    expect((err as Error).message).toMatch(/"1\.weight" has shape \[1, 4\] in the state dict but \[1, 3\]/);
    expect(flat(m.at(0).parameters()[0]!)).toEqual(before);
  });

  it('missing and unexpected keys raise when strict, and are reported otherwise', () => {
    const m = new Linear(2, 2);
    const sd = { weight: zeros([2, 2]), extra: zeros([1]) };
    expect(() => m.loadStateDict(sd)).toThrow(/missing keys: "bias"; unexpected keys: "extra"/);
    expect(m.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(flat(m.weight)).toEqual([0, 0, 0, 0]);
  });

  it('a dtype mismatch raises', () => {
    const m = new Linear(1, 1);
    expect(() => m.loadStateDict({ weight: tensor(Int32Array.from([1]), { shape: [1, 1] }), bias: zeros([1]) })).toThrow(/dtype int32/);
  });
});

describe('functionalCall', () => {
  it('runs with substituted tensors and restores the originals', () => {
    const m = new Linear(2, 1, { bias: false });
    const original = m.weight;
    const y = functionalCall(m, { weight: tensor([[1, 10]]) }, () => m.forward(tensor([[2, 3]])));
    expect(flat(y)).toEqual([32]);
    expect(m.weight).toBe(original);
    expect(() => functionalCall(m, { nope: zeros([1]) }, () => 0)).toThrow(/no parameter or buffer "nope"/);
    expect(m.weight).toBe(original);
  });

  it('reaches nested parameters by dotted name', () => {
    const m = new Sequential(new Linear(1, 1, { bias: false }), new Linear(1, 1, { bias: false }));
    const y = functionalCall(m, { '0.weight': tensor([[2]]), '1.weight': tensor([[3]]) }, () => m.forward(tensor([[1]])));
    expect(flat(y)).toEqual([6]);
  });
});
