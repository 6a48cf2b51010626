/**
 * The checkpoint round trip: simplex-vq → PyTorch → simplex-vq, through safetensors files.
 *
 *   1. simplex-vq trains the app's model (knn-ce, shards 2) for a few Adam steps on the app's
 *      batches and saves checkpoint A with @simplex-vq/nn's saveCheckpoint (model, Adam, step,
 *      config; `parameterNames` in the metadata tells PyTorch which parameter each Adam index is).
 *   2. PyTorch (bench/peer/torch_checkpoint.py) loads A into its twin with load_state_dict(strict),
 *      writes the state dict straight back (C), resumes Adam from A's moments, computes outputs on a
 *      probe batch, takes one Adam step, and saves checkpoint B in simplex-vq's format.
 *   3. simplex-vq checks:
 *      - C holds exactly A's model tensors, bit for bit (and loads with loadStateDict, strict);
 *      - from A, loaded through loadCheckpoint into a fresh model and Adam, its own outputs on the
 *        probe batch and its own Adam step agree with PyTorch's (the rule of rule.ts, float32);
 *      - B loads with loadCheckpoint (model and Adam, step + 1); the tensors the step does not touch
 *        (the buffers quantizer.logTemperature and quantizer.initialized) are A's bit for bit; its
 *        weights and moments are what our own step gave, and our outputs from B's weights are
 *        PyTorch's from the same weights (the rule).
 *   Evaluation-mode codes (an argmax) must be PyTorch's row for row, except where PyTorch's own
 *   float64 variant picks our code too: there the two best logits are so near that rounding alone
 *   decides between them, and float32 may go either way.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CpuBackend, noGrad, setBackend, type Tensor } from '@simplex-vq/tensor';
import { Adam, parseSafetensors, serializeSafetensors } from '@simplex-vq/nn';
import { loadCheckpoint, saveCheckpoint, writeFileAtomic } from '@simplex-vq/nn/node';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';
import type { Autoencoder } from '@simplex-vq/autoencoder/model';
import { BENCH_DIR } from '../trajectory/torch.js';
import { readResultsFile, type ResultsFile } from './results-file.js';
import { floorOf, judge, relArray, relScalar, worstOf, type Judged } from './rule.js';
import { images, mnistBatches, newModel, twinQuantizer, type TwinConfig } from './setup.js';
import { runPeer } from './torch.js';

const METHOD = 'knn-ce';
const SHARDS = 2;
const ADAM = { lr: DEFAULTS.lr, betas: [0.9, 0.999] as [number, number], eps: 1e-8 };
const PARTS = ['loss', 'recon', 'commitment', 'knn'] as const;

export interface CheckpointOptions {
  python: string;
  batch: number;
  /** Adam steps simplex-vq takes before saving A. */
  trainSteps: number;
  dir?: string;
  tag?: string;
  progress?: (msg: string) => void;
  torchProgress?: boolean;
}

export interface CheckpointResult {
  /** C's tensors equal to A's, bit for bit, out of all A's model tensors; and B's untouched buffers. */
  bitExact: { stateDict: { equal: number; total: number }; untouched: { equal: number; total: number; names: string[] } };
  /** B restored by loadCheckpoint: its step, and Adam's step count per parameter. */
  restored: { step: number | null; adamSteps: number[] };
  /** Outputs from A (ours from A vs torch's), the step (our weights and moments vs B's), outputs from B. */
  before: Judged[];
  step: Judged[];
  after: Judged[];
  /** Evaluation-mode codes: rows that differ (before, after), and how many of them are not near-ties. */
  codes: { rows: number; differ: [number, number]; notNearTie: number };
  worst: Judged;
  pass: boolean;
  torchVersion: string;
  seconds: number;
}

/** Float32 bit patterns of a tensor's values (int32 as they are). */
function bits(t: Tensor): Uint32Array {
  const d = t.data();
  return new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}
function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  const x = bits(a), y = bits(b);
  return x.every((v, i) => v === y[i]);
}

interface Outputs {
  parts: Record<(typeof PARTS)[number], number>;
  reconstruction: Float32Array;
  codes: Int32Array;
}

/** Our outputs on x, as the twin computes them: training-mode loss parts and reconstruction without gradient, evaluation-mode codes. */
function oursOutputs(model: Autoencoder, x: Tensor): Outputs {
  return noGrad(() => {
    const out = model.trainingLoss(x);
    const s = out.quantizer.stats;
    model.eval();
    const codes = model.forward(x).quantizer.indices.data() as Int32Array;
    model.train();
    return { parts: { loss: out.loss.item(), recon: out.recon.item(), commitment: s.commitment!, knn: s.knn! }, reconstruction: out.reconstruction.data() as Float32Array, codes: codes.slice() };
  });
}

/** The rule for the outputs of one stage: ours against torch's f32, E from its f64 and f32-ulp variants. */
function judgeOutputs(stage: string, ours: Outputs, res: ResultsFile, scalars: Record<string, Record<string, Record<string, number>>>, floor: number): Judged[] {
  const t = (v: string, k: string) => res.tensors[`${stage}/${v}/${k}`]!.data;
  const variants = ['f64', 'f32-ulp'];
  const rows = PARTS.map((k) => {
    const ref = scalars[stage]!.f32![k]!;
    return judge(`${stage}: ${k}`, relScalar(ours.parts[k], ref), variants.map((v) => relScalar(scalars[stage]![v]![k]!, ref)), floor);
  });
  const ref = t('f32', 'reconstruction');
  rows.push(judge(`${stage}: reconstruction`, relArray(ours.reconstruction, ref), variants.map((v) => relArray(t(v, 'reconstruction'), ref)), floor));
  return rows;
}

export async function runCheckpointRoundTrip(o: CheckpointOptions): Promise<CheckpointResult> {
  const t0 = performance.now();
  const say = o.progress ?? (() => {});
  const dir = o.dir ?? path.join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, `distributed-${o.tag ?? 'latest'}-${name}`);
  const [fileA, fileB, fileC, probeFile, resultsFile] = ['ckpt-A.safetensors', 'ckpt-B.safetensors', 'ckpt-C.safetensors', 'ckpt-probe.safetensors', 'ckpt-torch.safetensors'].map(file) as [string, string, string, string, string];

  // 1. Train a few steps as the app does (the data initialization in the first step) and save A.
  setBackend(new CpuBackend({ threads: 1 }));
  const { batches, outputBias } = mnistBatches(o.trainSteps + 1, o.batch);
  const model = newModel(METHOD, SHARDS, outputBias);
  const adam = new Adam(model.parameters(), ADAM);
  for (let s = 0; s < o.trainSteps; s++) {
    adam.zeroGrad();
    model.trainingLoss(images(batches[s]!)).loss.backward();
    adam.step();
  }
  const config: TwinConfig = { methods: [METHOD], batch: o.batch, shards: SHARDS, hidden: DEFAULTS.hidden, dim: DEFAULTS.dim, codebookSize: DEFAULTS.codebookSize, quantizers: { [METHOD]: twinQuantizer(model) } };
  const parameterNames = model.namedParameters().map(([n]) => n);
  saveCheckpoint(fileA, { model, optimizer: adam, step: o.trainSteps, config, metadata: { parameterNames: JSON.stringify(parameterNames) } });
  const probe = batches[o.trainSteps]!;
  writeFileAtomic(probeFile, serializeSafetensors({ batch: images(probe) }));
  say(`simplex-vq: ${o.trainSteps} Adam steps of ${o.batch} images (knn-ce, shards = ${SHARDS}), checkpoint A saved`);

  // 2. PyTorch, in its own process while ours runs.
  const args = ['torch_checkpoint.py', '--checkpoint', fileA, '--batch', probeFile, '--out', resultsFile, '--state-dict', fileC, '--save', fileB];
  const torchRun = runPeer({ python: o.python, args, resultPrefix: 'CHECKPOINT-RESULT ', showProgress: o.torchProgress ?? false }).then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );

  // Ours from A, through the file: outputs on the probe batch, then one Adam step.
  const x = images(probe);
  const fromA = newModel(METHOD, SHARDS);
  const adamA = new Adam(fromA.parameters(), ADAM);
  const loadedA = loadCheckpoint(fileA, { model: fromA, optimizer: adamA });
  const oursBefore = oursOutputs(fromA, x);
  adamA.zeroGrad();
  fromA.trainingLoss(x).loss.backward();
  adamA.step();
  const ourStep = adamA.stateDict().state;

  const settled = await torchRun;
  if (!settled.ok) throw settled.e instanceof Error ? settled.e : new Error(String(settled.e));
  const res = readResultsFile(settled.r);
  const scalars = JSON.parse(res.metadata.scalars!) as Record<string, Record<string, Record<string, number>>>;
  say(`PyTorch ${res.metadata.torch}: A loaded into the twin, C and B written`);

  // 3. C: the state dict that PyTorch loaded, written straight back.
  setBackend(new CpuBackend({ threads: 1 }));
  const c = parseSafetensors(readFileSync(fileC), fileC).tensors;
  const a = loadedA.modelState;
  const names = Object.keys(a);
  const sameNames = Object.keys(c).sort().join() === [...names].sort().join();
  const stateEqual = sameNames ? names.filter((n) => sameBits(c[n]!, a[n]!)).length : 0;
  newModel(METHOD, SHARDS).loadStateDict(c); // strict: throws on a missing or unexpected tensor

  // B: PyTorch's resumed run, back in simplex-vq.
  const fromB = newModel(METHOD, SHARDS);
  const adamB = new Adam(fromB.parameters(), ADAM);
  const loadedB = loadCheckpoint(fileB, { model: fromB, optimizer: adamB });
  const stateB = fromB.stateDict();
  const paramSet = new Set(parameterNames);
  const untouched = names.filter((n) => !paramSet.has(n));
  const untouchedEqual = untouched.filter((n) => sameBits(stateB[n]!, a[n]!)).length;
  const adamSteps = Object.values(adamB.stateDict().state).map((s) => s.step as number);

  const floor = floorOf('float32', o.batch);
  const before = judgeOutputs('before', oursBefore, res, scalars, floor);
  const step: Judged[] = [];
  parameterNames.forEach((n, i) => {
    const ours: Record<string, Float32Array> = {
      param: fromA.stateDict()[n]!.data() as Float32Array,
      expAvg: (ourStep[i]!.expAvg as Tensor).data() as Float32Array,
      expAvgSq: (ourStep[i]!.expAvgSq as Tensor).data() as Float32Array,
    };
    for (const [k, mine] of Object.entries(ours)) {
      const ref = res.tensors[`step/f32/${k}.${n}`]!.data;
      step.push(judge(`step: ${k} ${n}`, relArray(mine, ref), ['f64', 'f32-ulp'].map((v) => relArray(res.tensors[`step/${v}/${k}.${n}`]!.data, ref)), floor));
    }
    // B holds PyTorch's float32 step: the same values as the results file's, as loaded by loadCheckpoint.
    const loaded = stateB[n]!.data();
    const ref = res.tensors[`step/f32/param.${n}`]!.data;
    if (relArray(loaded, ref) !== 0) throw new Error(`B's ${n} is not the step PyTorch reported`);
  });
  const oursAfter = oursOutputs(fromB, x);
  const after = judgeOutputs('after', oursAfter, res, scalars, floor);

  // Codes: a row whose code differs from PyTorch's is a failure unless PyTorch's float64 variant chose ours.
  const codeCheck = (stage: string, ours: Int32Array) => {
    const ref = res.tensors[`${stage}/f32/codes`]!.data;
    const f64 = res.tensors[`${stage}/f64/codes`]!.data;
    let differ = 0, notNearTie = 0;
    ours.forEach((v, i) => {
      if (v === ref[i]) return;
      differ++;
      if (v !== f64[i]) notNearTie++;
    });
    return { differ, notNearTie };
  };
  const cb = codeCheck('before', oursBefore.codes), ca = codeCheck('after', oursAfter.codes);
  const all = [...before, ...step, ...after];
  const bitExact = { stateDict: { equal: stateEqual, total: names.length }, untouched: { equal: untouchedEqual, total: untouched.length, names: untouched } };
  const restored = { step: loadedB.step, adamSteps };
  const pass = all.every((r) => r.pass) && stateEqual === names.length && untouchedEqual === untouched.length && cb.notNearTie + ca.notNearTie === 0 &&
    restored.step === o.trainSteps + 1 && adamSteps.length === parameterNames.length && adamSteps.every((s) => s === o.trainSteps + 1);
  return {
    bitExact,
    restored,
    before,
    step,
    after,
    codes: { rows: oursBefore.codes.length, differ: [cb.differ, ca.differ], notNearTie: cb.notNearTie + ca.notNearTie },
    worst: worstOf(all),
    pass,
    torchVersion: res.metadata.torch!,
    seconds: (performance.now() - t0) / 1000,
  };
}
