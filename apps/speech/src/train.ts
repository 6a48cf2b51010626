/**
 * One speech run: data, model, the contrastive training loop with checkpoints, the evaluation
 * (code usage, perplexities, contrastive accuracy on masked steps) and the linear probe.
 *
 * A resume reads and checks everything first (config.json; the checkpoint, which must be this
 * run's; history.csv up to its step) and writes nothing until all of it holds; a run that stopped
 * before its first checkpoint starts again from step 0. Training that produces NaN or Inf stops
 * (a RunError) without saving it.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, cat, noGrad, setBackend, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, CheckpointError, Linear, crossEntropy, restoreCheckpoint, type LoadedCheckpoint } from '@simplex-vq/nn';
import { loadCheckpoint, removeStaleTempFiles, saveCheckpoint, writeFileAtomic } from '@simplex-vq/nn/node';
import { CodeUsageTracker, hasCodebook } from '@simplex-vq/vq';
import { Batcher, type SpeechCorpus } from '@simplex-vq/datasets';
import { ConfigError, RUN_CONFIG, RunFileError, checkRunCheckpoint, checkStateFinite, checkStepFinite, makeFolder, useCpuBackend, type CheckedRunState, type LastCheckpoint } from '@simplex-vq/app-kit';
import { NOT_IDENTITY, normalizeSavedSpeechConfig, type SpeechConfig } from './config.js';
import { contrastiveLoss } from './contrastive.js';
import { loadSpeechData, makeBatch, maxSamplesOf, spread, type SpeechData } from './data.js';
import { makeMasks } from './masking.js';
import { SpeechModel, framesOf } from './model.js';

export interface SpeechMetrics {
  method: string;
  groups: number;
  codebookSize: number;
  steps: number;
  seed: number;
  /** How the codebooks started ('data' or 'normal' with its std); null for a method without a codebook. */
  init: 'data' | 'normal' | null;
  initStd: number | null;
  /** Code usage, overall (mean over groups) and per group. */
  codeUsage: number;
  codeUsagePerGroup: number[];
  perplexityOfMean: number;
  individualPerplexity: number;
  perSampleCodeUsage: number;
  contrastiveAccuracy: number;
  /** How often each code was picked on the test set, per group. */
  histograms: number[][];
  /** Held-out utterances the evaluation used (at most --eval-utterances) and how many there are. */
  evalUtterances: number;
  heldOutUtterances: number;
  /** Words the probe tells apart (0 or 1: no probe, and the probe figures are NaN — null in JSON). */
  probeWords: number;
  probeAccuracy: number;
  /** The same probe on a randomly initialized model: the floor. */
  probeFloor: number;
  /** Chance: always answering the most frequent word of the probe's train side, scored on its test side. */
  probeChance: number;
  /** Single-word utterances the probe used, per side (at most --probe-utterances each). */
  probeTrainUtterances: number;
  probeTestUtterances: number;
  trainSeconds: number;
  stepsPerSecond: number;
  data: string;
  /** The split by speaker: who was held out, who trained. */
  heldOutSpeakers: string[];
  trainSpeakers: string[];
  testFraction: number;
}

/** Metrics as read back from metrics.json: NaN was written as null. */
export function reviveSpeechMetrics(m: SpeechMetrics): SpeechMetrics {
  const nan = (v: unknown) => (typeof v === 'number' ? v : NaN);
  return { ...m, probeAccuracy: nan(m.probeAccuracy), probeFloor: nan(m.probeFloor), probeChance: nan(m.probeChance) };
}

export interface SpeechStep {
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  batchUsage: number;
}

export interface SpeechTrainOptions {
  resume?: boolean;
  onStep?: (s: SpeechStep) => void;
  onPhase?: (phase: string) => void;
  log?: (msg: string) => void;
  onCorpusProgress?: (done: number, total: number) => void;
  /** The data, loaded already (a comparison loads it once for all its runs, which share it). */
  data?: SpeechData;
}

/** The split in one line: how many speakers on each side, and the held-out ones by name. */
export function describeSplit(d: SpeechData): string {
  return `speakers: ${d.trainSpeakers.length} train, ${d.heldOutSpeakers.length} held out (${d.heldOutSpeakers.join(', ')})${d.splitNote ? `; ${d.splitNote}` : ''}`;
}

const HISTORY_HEADER = 'step,loss,contrastive,quantizer_loss,accuracy,batch_usage,seconds';
const MASK = (c: SpeechConfig) => ({ prob: c.maskProb, span: c.maskSpan, minMasked: 2 });

/** Codes as [B·T·G] int32 from a quantizer's indices. */
function codesOf(indices: Tensor): Int32Array {
  return Int32Array.from(indices.data());
}

/** A saved config.json in today's form; a RunFileError if it is not one. */
export function readSavedSpeechConfig(dir: string, saved?: Record<string, unknown>): SpeechConfig {
  const path = join(dir, RUN_CONFIG);
  try {
    return normalizeSavedSpeechConfig(saved ?? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>));
  } catch (e) {
    throw new RunFileError(path, `is not a run's settings (${(e as Error).message})`);
  }
}

/**
 * KNN splits the B·T rows of a batch into --shards equal parts of at least K rows each. B is the
 * batch (at most the train utterances) and T the frames of its longest utterance, at least those
 * of the shortest utterance (cropped to --max-seconds): checked against the data, before training.
 */
export function checkBatchRows(c: SpeechConfig, data: SpeechData): void {
  if (!c.method.startsWith('knn')) return;
  const B = Math.min(c.batchSize, data.train.utterances.length);
  if (B % c.shards !== 0) throw new ConfigError('shards', `${c.shards} shards do not divide a batch of ${B} utterances (the rows of a batch are B × frames)`);
  const shortest = Math.min(...data.train.utterances.map((u) => u.samples.length), maxSamplesOf(c));
  const rows = (B * Math.max(framesOf(Math.max(shortest, 400)), 1)) / c.shards;
  if (c.k > rows) throw new ConfigError('k', `K = ${c.k} exceeds the ${rows} rows a shard can have (${B} utterances × ${rows * c.shards / B} frames of the shortest, / ${c.shards} shards)`);
}

/**
 * The checkpoint of the run in `dir`, checked against its other files before anything is written:
 * saved with the settings of config.json, at a step the run can reach, with the data-order
 * metadata, and with history.csv holding every step up to it.
 */
function checkedCheckpoint(dir: string, config: SpeechConfig): CheckedRunState & { loaded: LoadedCheckpoint } {
  const path = join(dir, 'checkpoint.safetensors');
  const loaded = loadCheckpoint(path); // the file itself: structure, dtypes, finite values
  const fail = (message: string): never => {
    throw new CheckpointError(path, undefined, message);
  };
  const state = checkRunCheckpoint(dir, loaded, config, { normalize: normalizeSavedSpeechConfig, ignore: NOT_IDENTITY, historyHeader: HISTORY_HEADER, positions: { what: 'the training utterances' }, fail });
  return { loaded, ...state };
}

/** Every tensor a checkpoint would hold, by its name there: the model's state and the optimizer's. */
function stateTensors(model: SpeechModel, optimizer: Adam): Array<[string, Tensor]> {
  const out: Array<[string, Tensor]> = Object.entries(model.stateDict());
  for (const [i, s] of Object.entries(optimizer.stateDict().state)) for (const [k, v] of Object.entries(s)) if (typeof v !== 'number') out.push([`optimizer.state.${i}.${k}`, v]);
  return out;
}

export async function trainSpeechRun(dir: string, cfgIn: SpeechConfig, opts: SpeechTrainOptions = {}): Promise<{ metrics: SpeechMetrics; model: SpeechModel; data: SpeechData; config: SpeechConfig }> {
  const log = opts.log ?? (() => {});
  const ckpt = join(dir, 'checkpoint.safetensors');
  const historyPath = join(dir, 'history.csv');
  let config = cfgIn;
  const resuming = opts.resume === true;
  if (resuming) {
    const saved = readSavedSpeechConfig(dir);
    config = { ...saved, steps: Math.max(saved.steps, cfgIn.steps), threads: cfgIn.threads };
  }
  if (config.backend === 'gpujs') {
    const { createGpuJsBackend } = await import('@simplex-vq/backend-gpujs');
    const b = createGpuJsBackend();
    setBackend(b);
    log(`backend: ${b.describe()}`);
  } else log(`backend: ${useCpuBackend(config.threads)}`);
  // A resume reads and checks everything before it writes anything: the files first, then their fit to the data and the model.
  const checked = resuming && existsSync(ckpt) ? checkedCheckpoint(dir, config) : null;
  // The data: a folder that cannot be split stops the run before its folder is written.
  let data = opts.data;
  if (!data) {
    data = await loadSpeechData(config, log, opts.onCorpusProgress);
    log(`data: ${data.description}; ${data.train.utterances.length} train / ${data.test.utterances.length} test utterances (held-out speakers)`);
    log(describeSplit(data));
  }
  checkBatchRows(config, data);
  const model = new SpeechModel(config, new Generator(config.seed));
  const optimizer = new Adam(model.parameters(), { lr: config.lr });
  const batcher = new Batcher(data.train.utterances.length, Math.min(config.batchSize, data.train.utterances.length), { seed: config.seed });
  const gen = new Generator(config.seed + 7919); // crops, masks, distractors
  let start = 0, trainSeconds = 0;
  let history = `${HISTORY_HEADER}\n`;
  if (checked) {
    const c = checked;
    if (c.batcher.position > data.train.utterances.length) {
      throw new CheckpointError(ckpt, undefined, `metadata "batcher" ${JSON.stringify(c.batcher)} is not a position in the ${data.train.utterances.length} training utterances`);
    }
    restoreCheckpoint(c.loaded, { model, optimizer, rng: { batches: gen } }, ckpt);
    start = c.step;
    batcher.setState(c.batcher);
    trainSeconds = c.trainSeconds;
    history = c.history;
  } else if (resuming) {
    log(`${dir} has no checkpoint yet (the run stopped before its first, due at step ${Math.min(config.checkpointEvery, config.steps)}): starting from step 0`);
  }
  makeFolder(dir, 'out');
  const stale = removeStaleTempFiles(dir);
  if (stale.length > 0) log(`removed ${stale.length} temporary file(s) of an interrupted write: ${stale.join(', ')}`);
  writeFileAtomic(join(dir, RUN_CONFIG), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  writeFileSync(historyPath, history);

  const maxSamples = maxSamplesOf(config);
  const last: LastCheckpoint = { step: start > 0 ? start : null, file: ckpt, hint: 'a smaller --lr' };
  let pending: string[] = [];
  model.train();
  for (let step = start + 1; step <= config.steps; step++) {
    const t0 = performance.now();
    const batch = makeBatch(data.train, batcher.next(), maxSamples, gen);
    const { mask, padding } = makeMasks(batch.frames, batch.T, MASK(config), gen);
    optimizer.zeroGrad();
    const out = model.forward(batch.wave, tensor(mask, { shape: [batch.frames.length, batch.T] }), tensor(padding, { shape: [batch.frames.length, batch.T] }));
    const r = contrastiveLoss(out.context, out.targets, mask, codesOf(out.quantizer.indices), config.groups, { distractors: config.distractors, temperature: config.temperature, generator: gen });
    const loss = r.loss.add(out.quantizer.loss);
    loss.backward();
    optimizer.step();
    trainSeconds += (performance.now() - t0) / 1000;
    const info: SpeechStep = { step, steps: config.steps, loss: loss.item(), accuracy: r.accuracy, batchUsage: out.quantizer.stats.batchUsage ?? NaN };
    const contrastive = r.loss.item(), quantizerLoss = out.quantizer.loss.item();
    checkStepFinite(step, { 'the quantizer loss': quantizerLoss, 'the contrastive loss': contrastive, 'the loss': info.loss }, last);
    pending.push([step, info.loss, contrastive, quantizerLoss, r.accuracy, info.batchUsage, trainSeconds.toFixed(3)].join(','));
    opts.onStep?.(info);
    if (step % config.checkpointEvery === 0 || step === config.steps) {
      checkStateFinite(step, stateTensors(model, optimizer), last);
      appendFileSync(historyPath, pending.join('\n') + '\n');
      pending = [];
      saveCheckpoint(ckpt, { model, optimizer, step, config, rng: { batches: gen }, metadata: { batcher: JSON.stringify(batcher.getState()), trainSeconds: String(trainSeconds) } });
      last.step = step;
    }
  }

  opts.onPhase?.('evaluate');
  const evalIdx = spread(data.test.utterances.length, config.evalUtterances);
  const ev = evaluateSpeech(model, { ...data.test, utterances: evalIdx.map((i) => data.test.utterances[i]!) }, config);
  opts.onPhase?.('probe');
  const sets = probeSets(data, config);
  const probeAccuracy = probe(model, data, config, sets);
  const probeFloor = randomModelProbe(data, config, sets);
  const metrics: SpeechMetrics = {
    method: config.method,
    groups: config.groups,
    codebookSize: config.codebookSize,
    steps: config.steps,
    seed: config.seed,
    init: hasCodebook(config.method) ? config.init : null,
    initStd: hasCodebook(config.method) && config.init === 'normal' ? config.initStd : null,
    ...ev,
    evalUtterances: evalIdx.length,
    heldOutUtterances: data.test.utterances.length,
    probeWords: data.labels.length,
    probeAccuracy,
    probeFloor,
    probeChance: probeChance(data, sets),
    probeTrainUtterances: sets.train.length,
    probeTestUtterances: sets.test.length,
    trainSeconds,
    stepsPerSecond: trainSeconds > 0 ? config.steps / trainSeconds : 0,
    data: data.description,
    heldOutSpeakers: data.heldOutSpeakers,
    trainSpeakers: data.trainSpeakers,
    testFraction: config.testFraction,
  };
  writeFileAtomic(join(dir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`));
  return { metrics, model, data, config };
}

const floors = new Map<string, number>();

/**
 * The probe on a randomly initialized model: the floor the trained model's probe is read against.
 * Its features do not involve the quantizer, so the random model is built with one fixed quantizer
 * and the figure is shared (memoized in this process) by every run with the same data, encoder,
 * transformer and seed — a comparison of 12 methods computes it once per seed.
 */
function randomModelProbe(data: SpeechData, config: SpeechConfig, sets: ProbeSets): number {
  const { method: _m, groups: _g, codebookSize: _c, k: _k, shards: _s, steps: _n, lr: _l, checkpointEvery: _e, evalUtterances: _v, init: _i, initStd: _d, ...rest } = config;
  const key = JSON.stringify(rest);
  let floor = floors.get(key);
  if (floor === undefined) {
    floor = probe(new SpeechModel({ ...config, method: 'ste', groups: 1 }, new Generator(config.seed + 1_000_003)), data, config, sets);
    floors.set(key, floor);
  }
  return floor;
}

/** Code usage and perplexities over the valid frames of the test set, and contrastive accuracy. */
export function evaluateSpeech(model: SpeechModel, test: SpeechCorpus, c: SpeechConfig, batch = 16) {
  const G = c.groups, M = c.codebookSize;
  const tracker = new CodeUsageTracker(M, G);
  const gen = new Generator(12345); // the same masks and distractors for every model
  let right = 0, total = 0;
  model.eval();
  noGrad(() => {
    for (let s = 0; s < test.utterances.length; s += batch) {
      const idx = Array.from({ length: Math.min(batch, test.utterances.length - s) }, (_, i) => s + i);
      const b = makeBatch(test, idx, maxSamplesOf(c), null);
      const { mask, padding } = makeMasks(b.frames, b.T, MASK(c), gen);
      const out = model.forward(b.wave, tensor(mask, { shape: [idx.length, b.T] }), tensor(padding, { shape: [idx.length, b.T] }));
      const codes = codesOf(out.quantizer.indices);
      const r = contrastiveLoss(out.context, out.targets, mask, codes, G, { distractors: c.distractors, temperature: c.temperature, generator: gen });
      right += r.accuracy * r.steps;
      total += r.steps;
      // Only the valid frames count for usage.
      const rows: number[] = [];
      b.frames.forEach((n, bi) => {
        for (let t = 0; t < n; t++) rows.push(bi * b.T + t);
      });
      const rowIdx = tensor(Int32Array.from(rows));
      const validCodes = tensor(codes, { shape: [idx.length * b.T, G] }).indexSelect(0, rowIdx);
      const probs = out.quantizer.probs?.reshape([idx.length * b.T, G, M]).indexSelect(0, rowIdx);
      tracker.update(G === 1 ? validCodes.reshape([-1]) : validCodes, { probs, sampleLengths: b.frames });
    }
  });
  model.train();
  const r = tracker.result();
  return {
    codeUsage: r.overall.codeUsage,
    codeUsagePerGroup: r.groups.map((g) => g.codeUsage),
    perplexityOfMean: r.overall.perplexityOfMean,
    individualPerplexity: r.overall.individualPerplexity,
    perSampleCodeUsage: r.overall.perSampleCodeUsage,
    contrastiveAccuracy: total > 0 ? right / total : 0,
    histograms: r.groups.map((g) => g.histogram),
  };
}

/** Indices of the single-word utterances the probe reads on each side of the split. */
export interface ProbeSets {
  train: number[];
  test: number[];
}

/** The single-word utterances of each side, at most --probe-utterances each (evenly spread, so every run reads the same ones). */
export function probeSets(data: SpeechData, c: SpeechConfig): ProbeSets {
  const pick = (set: SpeechCorpus) => {
    const keep = set.utterances.map((u, i) => [u, i] as const).filter(([u]) => data.labels.includes(u.label) && u.words.length <= 1).map(([, i]) => i);
    return spread(keep.length, c.probeUtterances).map((j) => keep[j]!);
  };
  return data.labels.length < 2 ? { train: [], test: [] } : { train: pick(data.train), test: pick(data.test) };
}

/** Accuracy of always answering the train side's most frequent word, on the test side (NaN without a probe). */
export function probeChance(data: SpeechData, sets: ProbeSets): number {
  if (sets.train.length === 0 || sets.test.length === 0) return NaN;
  const counts = new Map<string, number>();
  for (const i of sets.train) counts.set(data.train.utterances[i]!.label, (counts.get(data.train.utterances[i]!.label) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
  return sets.test.filter((i) => data.test.utterances[i]!.label === top).length / sets.test.length;
}

/** Mean-pooled frozen context features of utterances `keep` of `set`, and their word labels. */
function pooled(model: SpeechModel, set: SpeechCorpus, keep: number[], labels: string[], c: SpeechConfig): { x: Tensor; y: Tensor } | null {
  if (keep.length === 0) return null;
  const feats: Tensor[] = [];
  model.eval();
  noGrad(() => {
    for (let s = 0; s < keep.length; s += 16) {
      const idx = keep.slice(s, s + 16);
      const b = makeBatch(set, idx, maxSamplesOf(c), null);
      const padding = new Float32Array(idx.length * b.T);
      b.frames.forEach((n, bi) => padding.fill(1, bi * b.T + n, (bi + 1) * b.T));
      const h = model.features(b.wave, tensor(padding, { shape: [idx.length, b.T] })); // [B, T, d]
      const valid = tensor(padding, { shape: [idx.length, b.T, 1] }).neg().add(1);
      feats.push(h.mul(valid).sum(1).div(tensor(Float32Array.from(b.frames), { shape: [idx.length, 1] })));
    }
  });
  model.train();
  return { x: cat(feats, 0), y: tensor(Int32Array.from(keep.map((i) => labels.indexOf(set.utterances[i]!.label)))) };
}

/** A linear probe (logistic regression, Adam) on the train split's pooled features; accuracy on the test split. */
export function probe(model: SpeechModel, data: SpeechData, c: SpeechConfig, sets: ProbeSets = probeSets(data, c), steps = 300): number {
  const tr = pooled(model, data.train, sets.train, data.labels, c);
  const te = pooled(model, data.test, sets.test, data.labels, c);
  if (!tr || !te || data.labels.length < 2) return NaN;
  // Standardize with the train statistics.
  const mean = tr.x.mean(0, true), std = tr.x.var(0, { keepdim: true }).add(1e-5).sqrt();
  const xtr = tr.x.sub(mean).div(std), xte = te.x.sub(mean).div(std);
  const clf = new Linear(xtr.shape[1]!, data.labels.length, { generator: new Generator(c.seed + 17) });
  const opt = new Adam(clf.parameters(), { lr: 0.05 });
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    crossEntropy(clf.forward(xtr), tr.y).backward();
    opt.step();
  }
  return noGrad(() => clf.forward(xte).argmax(1).eq(te.y).float().mean().item());
}
