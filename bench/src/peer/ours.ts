/**
 * simplex-vq's side of the peer benchmark: the autoencoder of apps/autoencoder itself (imported,
 * not copied), trained exactly as apps/autoencoder/src/train.ts trains it — zero the gradients,
 * forward, loss = MSE(x̂, x) + the quantizer's loss, backward, Adam step, read the loss.
 *
 * `makeInputs` writes the inputs file every engine reads (see common.ts): the initial weights, one
 * MNIST batch per batch size, and the reference gradients and post-step weights of the check batch
 * (computed here on the CPU backend with one thread). `prepareOurs` builds a step on one of our
 * backends from that file, for timing and for the equivalence check.
 */
import { CpuBackend, Generator, randn, setBackend, tensor, type Backend, type Tensor } from '@simplex-vq/tensor';
import { Adam, parseSafetensors, serializeSafetensors } from '@simplex-vq/nn';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { Batcher, gatherImages, loadMnist } from '@simplex-vq/datasets';
import { Autoencoder, type ModelConfig } from '@simplex-vq/autoencoder/model';
import { knnRegularizer } from '@simplex-vq/vq';
import { readFileSync } from 'node:fs';
import { MODEL, lossErrors, worstRelError, type CheckReport, type EngineId, type InputsFile } from './common.js';

/** The settings of the peer's model that other benchmarks may change (bench:scaling sweeps them). */
export interface ModelOverrides {
  codebookSize?: number;
  dim?: number;
}

/** The settings written to the inputs file's `config`: MODEL, with the overrides. */
type PeerModel = Omit<typeof MODEL, keyof ModelOverrides> & Required<ModelOverrides>;

const modelConfig = (m: PeerModel): ModelConfig => ({
  method: m.method,
  dim: m.dim,
  codebookSize: m.codebookSize,
  groups: m.groups,
  hidden: m.hidden,
  k: m.k,
  shards: m.shards,
});

/** The backend of an engine id; gpu.js lets gpu.js pick its target, as apps/autoencoder does. */
async function makeBackend(engine: EngineId): Promise<{ backend: Backend; describe: string }> {
  if (engine === 'ours-gpujs') {
    const { createGpuJsBackend } = await import('@simplex-vq/backend-gpujs');
    const backend = createGpuJsBackend();
    return { backend, describe: `gpujs: ${backend.describe()}` };
  }
  const backend = new CpuBackend({ threads: engine === 'ours-1' ? 1 : 'auto' });
  return { backend, describe: `cpu backend, ${backend.threadCount} thread${backend.threadCount === 1 ? '' : 's'}` };
}

interface Step {
  model: Autoencoder;
  optimizer: Adam;
  /** One training step; returns the loss and its parts (read back, which waits for the work). */
  run: () => { loss: number; recon: number; commitment: number; knn: number };
}

function makeStep(model: Autoencoder, x: Tensor): Step {
  model.train();
  const optimizer = new Adam(model.parameters(), { lr: MODEL.lr });
  const run = () => {
    optimizer.zeroGrad();
    const { loss, recon, quantizer } = model.trainingLoss(x); // the app's own objective
    loss.backward();
    optimizer.step();
    return { loss: loss.item(), recon: recon.item(), commitment: quantizer.stats.commitment ?? NaN, knn: quantizer.stats.knn ?? NaN };
  };
  return { model, optimizer, run };
}

const snapshot = (pairs: Array<[string, Tensor]>): Record<string, Float32Array> =>
  Object.fromEntries(pairs.map(([name, t]) => [name, t.data() as Float32Array]));

/**
 * Builds the model from `MODEL.seed` on one CPU thread, draws one MNIST batch per batch size, runs
 * one reference step on the check batch and writes it all to `file` (see common.ts). `overrides`
 * change the model's size (the codebook M, the latent C); the file's `config` records them, and
 * every engine builds its model from that `config`.
 */
export function makeInputs(file: string, batches: readonly number[], checkBatch: number, overrides: ModelOverrides = {}): { loss: number; seconds: number } {
  setBackend(new CpuBackend({ threads: 1 }));
  const settings: PeerModel = { ...MODEL, ...overrides };
  const model = new Autoencoder(modelConfig(settings), new Generator(MODEL.seed));
  const { train } = loadMnist();
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) tensors[`param.${name}`] = t;
  const xs = new Map<number, Tensor>();
  for (const b of new Set([...batches, checkBatch])) {
    const idx = new Batcher(train.count, b, { seed: MODEL.seed }).next();
    const x = tensor(gatherImages(train, idx), { shape: [b, 1, train.height, train.width] });
    xs.set(b, x);
    tensors[`x.${b}`] = x;
  }
  const step = makeStep(model, xs.get(checkBatch)!);
  const t0 = performance.now();
  const parts = step.run();
  const seconds = (performance.now() - t0) / 1000;
  // step.run() left each parameter's gradient in place and then updated the parameter.
  for (const [name, p] of model.namedParameters()) {
    tensors[`ref.grad.${name}`] = p.grad!;
    tensors[`ref.after.${name}`] = p.detach();
  }
  const metadata: Record<string, string> = {
    config: JSON.stringify(settings),
    checkBatch: String(checkBatch),
    'ref.loss': String(parts.loss),
    'ref.recon': String(parts.recon),
    'ref.commitment': String(parts.commitment),
    'ref.knn': String(parts.knn),
  };
  writeFileAtomic(file, serializeSafetensors(tensors, metadata));
  return { loss: parts.loss, seconds };
}

export interface PreparedEngine {
  describe: string;
  /** One timed training step; returns the loss. */
  step: () => number;
  /** One training step on the check batch compared with the reference (only with `check`). */
  check: (() => CheckReport) | null;
  /**
   * The KNN-CE term alone at the model's K: a step that runs its forward and backward on a fixed
   * random [rows, M] matrix of log-probabilities and returns its value (null: not implemented).
   */
  knn?: ((rows: number) => () => number) | null;
}

/** A training step of our engine `engine` from the inputs file, at batch size `batch`. */
export async function prepareOurs(engine: EngineId, inputsPath: string, inputs: InputsFile, batch: number): Promise<PreparedEngine> {
  const { backend, describe } = await makeBackend(engine);
  setBackend(backend);
  // The model's settings are the inputs file's (MODEL, or what bench:scaling changed in it).
  const settings: PeerModel = inputs.metadata.config ? (JSON.parse(inputs.metadata.config) as PeerModel) : MODEL;
  // Parsed again with our reader so that the tensors live on this backend.
  const all = parseSafetensors(readFileSync(inputsPath), inputsPath).tensors;
  const state = Object.fromEntries(Object.entries(all).filter(([n]) => n.startsWith('param.')).map(([n, t]) => [n.slice('param.'.length), t]));
  const build = (b: number): Step => {
    const model = new Autoencoder(modelConfig(settings), new Generator(MODEL.seed));
    model.loadStateDict(state);
    const x = all[`x.${b}`];
    if (!x) throw new Error(`the inputs file has no batch of size ${b}`);
    return makeStep(model, x);
  };
  const check = (): CheckReport => {
    const b = Number(inputs.metadata.checkBatch);
    const s = build(b);
    const parts = s.run();
    const named = s.model.namedParameters();
    const ref = (kind: string) => Object.fromEntries(named.map(([n]) => [n, inputs.tensors[`ref.${kind}.${n}`]!.data]));
    const grads = worstRelError(snapshot(named.map(([n, p]) => [n, p.grad!])), ref('grad'));
    const after = worstRelError(snapshot(named), ref('after'));
    return {
      ...parts,
      ...lossErrors(parts, inputs.metadata),
      gradRelErr: grads.err,
      gradWorst: grads.worst,
      afterRelErr: after.err,
      afterWorst: after.worst,
      backwardError: null,
    };
  };
  let timed: Step | null = null;
  // The quantizer's own call (packages/vq's SmoothedQuantizer): KNN-CE on log-probabilities.
  const knn = (rows: number) => {
    const logProbs = randn([rows, settings.codebookSize], { generator: new Generator(1) }).logSoftmax(-1).detach().requiresGrad_();
    return () => {
      logProbs.grad = null;
      const term = knnRegularizer(logProbs, { input: 'logProbs', k: settings.k, distance: 'ce', shards: settings.shards });
      term.backward(); // the CPU backend computes each op when it is called: the gradient is there now
      return term.item();
    };
  };
  return {
    describe,
    step: () => (timed ??= build(batch)).run().loss,
    check,
    knn,
  };
}
