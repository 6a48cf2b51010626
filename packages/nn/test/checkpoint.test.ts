/**
 * Checkpoints on disk: save → load is bit-exact; a run interrupted after k steps and resumed from
 * its checkpoint equals the uninterrupted run bit for bit; writes are atomic; corrupt, truncated
 * and mismatched files raise CheckpointErrors naming the file and the tensor; and readers other
 * than ours (Python's safetensors, or numpy following the format) see the same weights.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import {
  AdamW,
  CHECKPOINT_FORMAT,
  CheckpointError,
  Dropout,
  GELU,
  LambdaLR,
  LayerNorm,
  Linear,
  Module,
  SGD,
  Sequential,
  clipGradNorm,
  crossEntropy,
  parseSafetensors,
  warmupCosine,
} from '../src/index.js';
import { loadCheckpoint, removeStaleTempFiles, saveCheckpoint } from '../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nn-checkpoint-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bits = (t: Tensor) => Array.from(new Uint32Array(t.data().buffer.slice(0)));

/** A model with every kind of state: parameters, a buffer, and a dropout generator. */
class Net extends Module {
  declare readonly body: Sequential;
  declare readonly seen: Tensor;

  constructor(seed: number, hidden = 16) {
    super();
    const g = new Generator(seed);
    this.registerModule('body', new Sequential(
      new Linear(4, hidden, { generator: g }), new GELU(), new Dropout(0.3, { seed: seed + 1 }), new LayerNorm(hidden), new Linear(hidden, 3, { generator: g }),
    ));
    this.registerBuffer('seen', tensor([0]));
  }

  override forward(x: Tensor): Tensor {
    this.seen.assign(this.seen.add(x.shape[0]!));
    return this.body.forward(x);
  }
}

interface Run {
  model: Net;
  optimizer: AdamW;
  scheduler: LambdaLR;
  data: Generator;
}

const dataset = (() => {
  const g = new Generator(99);
  return {
    x: tensor(Float32Array.from({ length: 64 * 4 }, () => g.normal()), { shape: [64, 4] }),
    y: tensor(Int32Array.from({ length: 64 }, () => g.randint(0, 3))),
  };
})();

function newRun(seed: number): Run {
  const model = new Net(seed);
  const optimizer = new AdamW([
    { params: model.body.at(0).parameters() },
    { params: [...model.body.at(3).parameters(), ...model.body.at(4).parameters()], weightDecay: 0 },
  ], { lr: 0.01 });
  const scheduler = new LambdaLR(optimizer, warmupCosine({ warmupSteps: 3, totalSteps: 20 }));
  return { model, optimizer, scheduler, data: new Generator(seed + 2) };
}

/** Steps from..to−1: a minibatch drawn by the data generator, dropout active, clipping, schedule. */
function train(r: Run, from: number, to: number): void {
  for (let step = from; step < to; step++) {
    const idx = tensor(Int32Array.from({ length: 8 }, () => r.data.randint(0, 64)));
    r.optimizer.zeroGrad();
    crossEntropy(r.model.forward(dataset.x.indexSelect(0, idx)), dataset.y.indexSelect(0, idx)).backward();
    clipGradNorm(r.model.parameters(), 1);
    r.optimizer.step();
    r.scheduler.step();
  }
}

function expectSameState(a: Run, b: Run): void {
  const sa = a.model.stateDict(), sb = b.model.stateDict();
  expect(Object.keys(sb)).toEqual(Object.keys(sa));
  for (const k of Object.keys(sa)) expect(bits(sb[k]!), k).toEqual(bits(sa[k]!));
  const oa = a.optimizer.stateDict(), ob = b.optimizer.stateDict();
  expect(Object.keys(ob.state)).toEqual(Object.keys(oa.state));
  for (const [i, s] of Object.entries(oa.state)) {
    for (const [k, v] of Object.entries(s)) {
      const w = ob.state[Number(i)]![k]!;
      if (typeof v === 'number') expect(w).toBe(v);
      else expect(bits(w as Tensor), `state.${i}.${k}`).toEqual(bits(v));
    }
  }
  expect(ob.paramGroups).toEqual(oa.paramGroups);
  expect(b.scheduler.stateDict()).toEqual(a.scheduler.stateDict());
  expect(b.data.getState()).toEqual(a.data.getState());
  expect(b.model.namedGenerators().map(([, g]) => g.getState())).toEqual(a.model.namedGenerators().map(([, g]) => g.getState()));
}

describe('save → load', () => {
  it('restores model, buffers, optimizer, scheduler, generators, step and config bit for bit', () => {
    const a = newRun(1);
    train(a, 0, 4);
    a.data.normal(); // leave a Box–Muller spare in the state: a float64 that must survive
    const path = join(dir, 'exact.safetensors');
    const config = { lr: 0.01, layers: [4, 16, 3], name: 'tiny' };
    saveCheckpoint(path, { model: a.model, optimizer: a.optimizer, scheduler: a.scheduler, step: 4, config, rng: { data: a.data } });

    const b = newRun(50);
    const loaded = loadCheckpoint(path, { model: b.model, optimizer: b.optimizer, scheduler: b.scheduler, rng: { data: b.data } });
    expect(loaded.step).toBe(4);
    expect(loaded.config).toEqual(config);
    expect(loaded.optimizerType).toBe('AdamW');
    expect(loaded.metadata.format).toBe(CHECKPOINT_FORMAT);
    expectSameState(a, b);
    expect(b.data.normal()).toBe(a.data.normal());
  });

  it('stores the model weights under their own names and the optimizer state under optimizer.state.*', () => {
    const a = newRun(2);
    train(a, 0, 1);
    const path = join(dir, 'names.safetensors');
    saveCheckpoint(path, { model: a.model, optimizer: a.optimizer });
    const { tensors, metadata } = parseSafetensors(readFileSync(path));
    const names = Object.keys(tensors);
    expect(names).toContain('body.0.weight');
    expect(names).toContain('seen');
    expect(names).toContain('optimizer.state.0.expAvg');
    expect(names).toContain('optimizer.state.5.expAvgSq');
    expect(JSON.parse(metadata.optimizer!).scalars['0']).toEqual({ step: 1 });
    expect(JSON.parse(metadata.rng!).model).toHaveProperty(['body.2.generator']);
  });
});

describe('resume', () => {
  it('a run interrupted after k steps and resumed from its checkpoint equals the uninterrupted run bit for bit', () => {
    const total = 12, k = 5;
    const straight = newRun(3);
    train(straight, 0, total);

    const first = newRun(3);
    train(first, 0, k);
    const path = join(dir, 'resume.safetensors');
    saveCheckpoint(path, { model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, step: k, rng: { data: first.data } });

    const resumed = newRun(77); // different initial weights, generators and lr: all must be overwritten
    const { step } = loadCheckpoint(path, { model: resumed.model, optimizer: resumed.optimizer, scheduler: resumed.scheduler, rng: { data: resumed.data } });
    train(resumed, step!, total);
    expectSameState(straight, resumed);
  });

  it('(control) resuming without the data generator state diverges, so the test above can fail', () => {
    const straight = newRun(4);
    train(straight, 0, 8);
    const first = newRun(4);
    train(first, 0, 3);
    const path = join(dir, 'control.safetensors');
    saveCheckpoint(path, { model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, step: 3 });
    const resumed = newRun(4);
    loadCheckpoint(path, { model: resumed.model, optimizer: resumed.optimizer, scheduler: resumed.scheduler });
    train(resumed, 3, 8);
    expect(bits(resumed.model.body.at(0).parameters()[0]!)).not.toEqual(bits(straight.model.body.at(0).parameters()[0]!));
  });
});

describe('atomic writes', () => {
  it('replaces an existing checkpoint and leaves no temporary file', () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const path = join(sub, 'model.safetensors');
    saveCheckpoint(path, { model: new Net(5), step: 1 });
    saveCheckpoint(path, { model: new Net(6), step: 2 });
    expect(readdirSync(sub)).toEqual(['model.safetensors']);
    expect(loadCheckpoint(path).step).toBe(2);
  });

  it('a failed write raises, names the file, and leaves the target and the folder as they were', () => {
    const sub = join(dir, 'failing');
    mkdirSync(join(sub, 'target.safetensors'), { recursive: true }); // a folder where the file should go: rename fails
    let err: unknown;
    try {
      saveCheckpoint(join(sub, 'target.safetensors'), { model: new Net(7) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/target\.safetensors: could not be written/);
    expect(readdirSync(sub)).toEqual(['target.safetensors']);
    expect(readdirSync(join(sub, 'target.safetensors'))).toEqual([]);
    expect(() => saveCheckpoint(join(dir, 'no', 'such', 'folder.safetensors'), { model: new Net(7) })).toThrow(/could not be written/);
  });
});

describe('loading files that do not fit', () => {
  const path = join(dir, 'base.safetensors');
  const base = newRun(8);
  train(base, 0, 2);
  saveCheckpoint(path, { model: base.model, optimizer: base.optimizer, scheduler: base.scheduler, step: 2 });
  const bytes = readFileSync(path);

  it('a truncated file names the file (and the tensor cut off)', () => {
    const cut = join(dir, 'truncated.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    const e = (() => {
      try {
        loadCheckpoint(cut, { model: new Net(0) });
      } catch (err) {
        return err as CheckpointError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.file).toBe(cut);
    expect(e.tensor).toBeDefined();
    expect(e.message).toContain(`${cut}: tensor "${e.tensor}"`);
    writeFileSync(cut, bytes.subarray(0, 5));
    expect(() => loadCheckpoint(cut)).toThrow(/truncated\.safetensors: file is 5 bytes/);
  });

  it('a corrupt header or metadata names the file', () => {
    const bad = join(dir, 'corrupt.safetensors');
    const b = Buffer.from(bytes);
    b[9] = 0x5b; // '{"' → '{['
    writeFileSync(bad, b);
    expect(() => loadCheckpoint(bad)).toThrow(/corrupt\.safetensors: header is not valid UTF-8 JSON/);
    expect(() => loadCheckpoint(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: could not be read/);
  });

  it('a shape mismatch names the file and the tensor, and changes nothing', () => {
    const wider = new Net(9, 24);
    const before = bits(wider.body.at(0).parameters()[0]!);
    let err: CheckpointError | undefined;
    try {
      loadCheckpoint(path, { model: wider });
    } catch (e) {
      err = e as CheckpointError;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err!.tensor).toBe('body.0.weight');
    expect(err!.message).toMatch(/base\.safetensors: tensor "body\.0\.weight": .*shape \[16, 4\] in the state dict but \[24, 4\]/);
    expect(bits(wider.body.at(0).parameters()[0]!)).toEqual(before);
  });

  it('a model with other keys, another optimizer, or missing state raise', () => {
    class Other extends Module {
      constructor() {
        super();
        this.registerModule('head', new Linear(4, 3));
      }
    }
    expect(() => loadCheckpoint(path, { model: new Other() })).toThrow(/base\.safetensors: .*missing keys: "head\.weight"/);
    const r = newRun(10);
    const sgd = new SGD(r.model.parameters());
    expect(() => loadCheckpoint(path, { optimizer: sgd })).toThrow(/holds the state of a AdamW, not of a SGD/);
    expect(() => saveCheckpoint(join(dir, 'bad-config.safetensors'), { model: new Net(0), config: { n: 1n } })).toThrow(/bad-config\.safetensors: config cannot be stored as JSON/);
    const modelOnly = join(dir, 'model-only.safetensors');
    saveCheckpoint(modelOnly, { model: new Net(11) });
    expect(() => loadCheckpoint(modelOnly, { optimizer: r.optimizer })).toThrow(/model-only\.safetensors: has no optimizer state/);
    expect(() => loadCheckpoint(modelOnly, { rng: { data: new Generator(0) } })).toThrow(/no state for generator "data"/);
  });

  it('an optimizer state of the wrong shape names the tensor; a failed model load rolls the optimizer back', () => {
    const r = newRun(12);
    train(r, 0, 1);
    const before = r.optimizer.stateDict();
    const wider = new Net(12, 24);
    const wrongOpt = new AdamW([
      { params: wider.body.at(0).parameters() },
      { params: [...wider.body.at(3).parameters(), ...wider.body.at(4).parameters()] },
    ]);
    expect(() => loadCheckpoint(path, { optimizer: wrongOpt })).toThrow(/tensor "optimizer\.state\.0\.expAvg": .*shape \[16, 4\], parameter 0 has \[24, 4\]/);
    // Right optimizer, wrong model: the optimizer state must be put back.
    expect(() => loadCheckpoint(path, { model: wider, optimizer: r.optimizer })).toThrow(CheckpointError);
    const after = r.optimizer.stateDict();
    expect(bits(after.state[0]!.expAvg as Tensor)).toEqual(bits(before.state[0]!.expAvg as Tensor));
    expect(after.paramGroups).toEqual(before.paramGroups);
  });
});

describe('checkpoints that no run could have written', () => {
  const path = join(dir, 'sane.safetensors');
  const base = newRun(14);
  train(base, 0, 2);
  saveCheckpoint(path, { model: base.model, optimizer: base.optimizer, scheduler: base.scheduler, step: 2 });
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  /** The file with element `i` of tensor `name` set to `v` (as float32). */
  const withValue = (name: string, i: number, v: number) => {
    const b = Buffer.from(bytes);
    b.writeFloatLE(v, 8 + headerLength + header[name]!.data_offsets[0] + 4 * i);
    return b;
  };
  /** The file with its header JSON edited (same length, padded with spaces). */
  const withHeader = (edit: (h: string) => string) => {
    const text = edit(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(headerLength);
    return Buffer.concat([bytes.subarray(0, 8), Buffer.from(text.padEnd(headerLength, ' ')), bytes.subarray(8 + headerLength)]);
  };
  const refusal = (b: Uint8Array, name: string) => {
    const file = join(dir, name);
    writeFileSync(file, b);
    const r = newRun(15);
    const before = { weights: bits(r.model.body.at(0).parameters()[0]!), opt: JSON.stringify(r.optimizer.stateDict().paramGroups) };
    let err: CheckpointError | undefined;
    try {
      loadCheckpoint(file, { model: r.model, optimizer: r.optimizer, scheduler: r.scheduler });
    } catch (e) {
      err = e as CheckpointError;
    }
    expect(err, name).toBeInstanceOf(CheckpointError);
    expect(err!.file).toBe(file);
    // Nothing was restored.
    expect(bits(r.model.body.at(0).parameters()[0]!)).toEqual(before.weights);
    expect(JSON.stringify(r.optimizer.stateDict().paramGroups)).toBe(before.opt);
    expect(r.optimizer.stateDict().state).toEqual({});
    return err!;
  };

  it('NaN or ±Inf in any tensor, model or optimizer, is refused naming the tensor and the element', () => {
    for (const [tensorName, i, v] of [['body.0.weight', 5, NaN], ['body.3.bias', 0, Infinity], ['optimizer.state.1.expAvg', 2, -Infinity], ['seen', 0, NaN]] as const) {
      const e = refusal(withValue(tensorName, i, v), `nonfinite-${tensorName}.safetensors`);
      expect(e.tensor).toBe(tensorName);
      expect(e.message).toMatch(new RegExp(`holds ${v} at element ${i} of`));
    }
  });

  it('a negative second moment, a bad step count or learning rate in the optimizer state is refused', () => {
    const neg = refusal(withValue('optimizer.state.0.expAvgSq', 3, -0.5), 'negative-v.safetensors');
    expect(neg.tensor).toBe('optimizer.state.0.expAvgSq');
    expect(neg.message).toMatch(/holds -0.5 at element 3; a second moment .* cannot be negative/);
    const step = refusal(withHeader((h) => h.replace(/\\"step\\":2\b/, '\\"step\\":0')), 'negative-step.safetensors');
    expect(step.message).toMatch(/state\.\d+\.step is 0, not a step count ≥ 1/);
    const lr = refusal(withHeader((h) => h.replace(/\\"lr\\":[0-9.e-]+/, '\\"lr\\":\\"x\\"')), 'bad-lr.safetensors');
    expect(lr.message).toMatch(/parameter group 0: AdamW: invalid learning rate x/);
  });

  it('a tensor of the wrong dtype is refused naming it', () => {
    const e = refusal(withHeader((h) => h.replace('"body.0.weight":{"dtype":"F32"', '"body.0.weight":{"dtype":"I32"')), 'dtype.safetensors');
    expect(e.tensor).toBe('body.0.weight');
    expect(e.message).toMatch(/int32/);
    const o = refusal(withHeader((h) => h.replace('"optimizer.state.0.expAvg":{"dtype":"F32"', '"optimizer.state.0.expAvg":{"dtype":"I32"')), 'dtype-opt.safetensors');
    expect(o.tensor).toBe('optimizer.state.0.expAvg');
  });

  it('a model holding NaN is never saved: the old checkpoint stays', () => {
    const file = join(dir, 'keep.safetensors');
    const r = newRun(16);
    saveCheckpoint(file, { model: r.model, step: 1 });
    const kept = readFileSync(file);
    const w = r.model.body.at(0).parameters()[0]!;
    w.assign(w.mul(NaN));
    expect(() => saveCheckpoint(file, { model: r.model, step: 2 })).toThrow(/keep\.safetensors: tensor "body\.0\.weight": holds NaN at element 0 of 64 \(index \[0, 0\]\); a checkpoint is never written/);
    expect(readFileSync(file).equals(kept)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('keep.safetensors.tmp-'))).toEqual([]);
  });

  it('removeStaleTempFiles clears what interrupted writes left, but not a running process\'s', () => {
    const sub = join(dir, 'stale');
    mkdirSync(sub);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout; // a pid that has exited
    for (const f of [`checkpoint.safetensors.tmp-${dead}-0a1b2c`, `config.json.tmp-${process.pid}-ffee00`, `metrics.json.tmp-${process.ppid}-123abc`, 'history.csv', 'notes.tmp-x']) writeFileSync(join(sub, f), 'x');
    expect(removeStaleTempFiles(sub).sort()).toEqual([`checkpoint.safetensors.tmp-${dead}-0a1b2c`, `config.json.tmp-${process.pid}-ffee00`].sort());
    expect(readdirSync(sub).sort()).toEqual(['history.csv', `metrics.json.tmp-${process.ppid}-123abc`, 'notes.tmp-x'].sort());
    expect(removeStaleTempFiles(join(sub, 'missing'))).toEqual([]);
  });
});

// Other readers. Each test runs only where its Python module is installed (they are not project
// dependencies); where it is missing the test is reported as skipped.
const hasPython = (module: string) => spawnSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;

describe('other readers see the same weights', () => {
  const model = new Net(13);
  const path = join(dir, 'interop.safetensors');
  saveCheckpoint(path, { model, step: 7, config: { a: 1 } });
  const expected = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, { shape: [...t.shape], values: Array.from(t.data()) }]));

  it.runIf(hasPython('safetensors.numpy'))('safetensors (the reference library) loads the file [skipped when the Python package is not installed]', () => {
    const script = [
      'import json, sys',
      'from safetensors.numpy import load_file',
      'from safetensors import safe_open',
      'ts = load_file(sys.argv[1])',
      'meta = safe_open(sys.argv[1], "np").metadata()',
      'print(json.dumps({"meta": meta, "tensors": {k: {"shape": list(v.shape), "values": v.astype("float64").ravel().tolist()} for k, v in ts.items()}}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
    expect(out.meta.step).toBe('7');
    expect(out.tensors).toEqual(expected);
  });

  it.runIf(hasPython('numpy'))('numpy, reading the layout as the format describes it, gets the same tensors [skipped without numpy]', () => {
    const script = [
      'import json, struct, sys',
      'import numpy as np',
      'b = open(sys.argv[1], "rb").read()',
      'n = struct.unpack("<Q", b[:8])[0]',
      'h = json.loads(b[8:8 + n])',
      'meta = h.pop("__metadata__")',
      'data = b[8 + n:]',
      'dt = {"F32": "<f4", "I32": "<i4"}',
      'out = {k: {"shape": v["shape"], "values": np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=dt[v["dtype"]]).astype("float64").tolist()} for k, v in h.items()}',
      'print(json.dumps({"meta": meta, "tensors": out}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
    expect(out.meta.step).toBe('7');
    expect(JSON.parse(out.meta.config)).toEqual({ a: 1 });
    expect(out.tensors).toEqual(expected);
  });
});
