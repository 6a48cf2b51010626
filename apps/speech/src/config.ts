/** Settings of one speech run, their defaults and validation (a bad value names its option). */
import { ConfigError, choiceOption, numberOption, threadsOption } from '@simplex-vq/app-kit';
import { METHODS, isMethod } from '@simplex-vq/vq';

export { ConfigError };
import type { SpeechModelConfig } from './model.js';

/** The model's settings (SpeechModelConfig) and the run's. */
export interface SpeechConfig extends SpeechModelConfig {
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Longest stretch of an utterance a training batch uses (longer ones are cropped at random). */
  maxSeconds: number;
  maskProb: number;
  maskSpan: number;
  distractors: number;
  temperature: number;
  checkpointEvery: number;
  /** A folder of WAV files to use instead of the synthetic corpus. */
  data: string | null;
  /** Regular expression whose first group is a file's label (with --data). */
  labelPattern: string | null;
  /** Regular expression whose first group is a file's speaker (with --data; default: its subfolder). */
  speakerPattern: string | null;
  /** Seed of the synthetic corpus (its voices, words, pitches and speeds). */
  corpusSeed: number;
  /** Synthetic corpus: the first this many words of the vocabulary (digits first). */
  vocabulary: number;
  /** Synthetic corpus: single-word utterances of each word, multi-word ones, and speakers. */
  perWord: number;
  sequences: number;
  speakers: number;
  /** Where the synthetic corpus is cached. */
  cacheDir: string;
  /** Fraction of the speakers held out for evaluation and the probe's test side. */
  testFraction: number;
  /** With --data: trim leading and trailing silence this many dB below the loudest 10 ms frame; null keeps it. */
  trimSilence: number | null;
  /** At most this many held-out utterances are evaluated (null: all); evaluation can cost more than training. */
  evalUtterances: number | null;
  /** The probe reads at most this many single-word utterances of each split (null: all). */
  probeUtterances: number | null;
  /** How codebooks start: k-means (k-means++ and 10 Lloyd steps) on the encoder's outputs of the first batch, or N(0, initStd²). */
  init: 'data' | 'normal';
  initStd: number;
  backend: 'cpu' | 'gpujs';
  /** CPU threads for large products ('auto': every core); not part of a run's identity. */
  threads: number | 'auto';
}

/** Settings that never make two runs differ (how often to checkpoint, how many threads). */
export const NOT_IDENTITY: readonly (keyof SpeechConfig)[] = ['checkpointEvery', 'threads'];

export const SPEECH_DEFAULTS: SpeechConfig = {
  method: 'knn-ce',
  groups: 1,
  codebookSize: 64,
  convChannels: 32,
  dModel: 64,
  layers: 2,
  heads: 4,
  ffDim: 128,
  finalDim: 32,
  k: 1,
  shards: 1,
  steps: 300,
  batchSize: 8,
  lr: 1e-3,
  seed: 0,
  maxSeconds: 1.5,
  maskProb: 0.1,
  maskSpan: 5,
  distractors: 10,
  temperature: 0.1,
  checkpointEvery: 100,
  data: null,
  labelPattern: null,
  speakerPattern: null,
  corpusSeed: 0,
  vocabulary: 35,
  perWord: 20,
  sequences: 100,
  speakers: 40,
  cacheDir: '.cache/simplex-vq',
  testFraction: 0.2,
  trimSilence: null,
  // Above the default corpus's held-out (≈ 160) and single-word train (≈ 560) utterances: the caps
  // bound the cost on a large WAV folder and change nothing on the default experiment.
  evalUtterances: 400,
  probeUtterances: 800,
  init: 'data',
  initStd: 1,
  backend: 'cpu',
  threads: 'auto',
};

/**
 * What a config.json written before a setting existed ran with — not today's default: codebooks
 * started N(0, 1), nothing was capped or trimmed. So an old run never passes for a new one.
 */
const BEFORE_THE_SETTING: Partial<SpeechConfig> = { init: 'normal', initStd: 1, testFraction: 0.2, trimSilence: null, evalUtterances: null, probeUtterances: null };

/** A saved config.json in the current form (for run reuse and --resume). */
export function normalizeSavedSpeechConfig(saved: Record<string, unknown>): SpeechConfig {
  return resolveSpeechConfig({ ...BEFORE_THE_SETTING, ...saved } as Partial<Record<keyof SpeechConfig, unknown>>);
}

/** Merges raw option values over the defaults, validating each. */
export function resolveSpeechConfig(raw: Partial<Record<keyof SpeechConfig, unknown>>, base: SpeechConfig = SPEECH_DEFAULTS): SpeechConfig {
  const c = { ...base };
  const num = (key: keyof SpeechConfig, check: (n: number) => boolean, what: string) => {
    const v = raw[key];
    if (v === undefined) return;
    (c as Record<string, unknown>)[key] = numberOption(key, v, check, what);
  };
  const posInt = (n: number) => Number.isInteger(n) && n >= 1;
  const intIn = (key: keyof SpeechConfig, min: number, max: number) => num(key, (n) => Number.isInteger(n) && n >= min && n <= max, `an integer in [${min}, ${max}]`);
  if (raw.method !== undefined) {
    const m = String(raw.method);
    if (!isMethod(m)) throw new ConfigError('method', `unknown method '${m}'; choose one of ${METHODS.join(', ')}`);
    c.method = m;
  }
  // Model sizes: each bounded on its own here, and all together by the memory a step needs (below).
  for (const [key, max] of [['groups', 64], ['convChannels', 4096], ['dModel', 4096], ['layers', 64], ['heads', 64], ['ffDim', 16384], ['finalDim', 4096]] as const) intIn(key, 1, max);
  intIn('codebookSize', 2, 65536);
  for (const key of ['k', 'shards'] as const) intIn(key, 1, 1_000_000);
  intIn('steps', 1, LIMITS.steps);
  intIn('checkpointEvery', 1, LIMITS.checkpointEvery);
  intIn('batchSize', 1, 4096);
  intIn('maskSpan', 1, 1000);
  intIn('distractors', 1, 1000);
  intIn('seed', 0, 2 ** 31);
  intIn('vocabulary', 2, 35);
  intIn('perWord', 1, 1000);
  intIn('speakers', 2, 1000);
  intIn('sequences', 0, 10_000);
  intIn('corpusSeed', 0, 2 ** 31);
  num('lr', (n) => n > 0 && n < 10, 'a learning rate in (0, 10)');
  num('maxSeconds', (n) => n >= 0.2 && n <= 30, 'a duration in seconds in [0.2, 30]');
  num('maskProb', (n) => n > 0 && n < 1, 'a probability in (0, 1)');
  // Cosine similarities are in [-1, 1]: below 1e-3 the logits leave what float32 trains with.
  num('temperature', (n) => n >= 1e-3 && n <= 1000, 'a temperature in [0.001, 1000]');
  if (raw.data !== undefined) c.data = raw.data === null ? null : String(raw.data);
  for (const key of ['labelPattern', 'speakerPattern'] as const) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const p = String(raw[key]);
    if (p === '') throw new ConfigError(key === 'labelPattern' ? 'label-pattern' : 'speaker-pattern', "expected a regular expression, got ''");
    try {
      new RegExp(p);
    } catch (e) {
      throw new ConfigError(key === 'labelPattern' ? 'label-pattern' : 'speaker-pattern', `not a regular expression: ${(e as Error).message}`);
    }
    c[key] = p;
  }
  if (raw.cacheDir !== undefined) {
    c.cacheDir = String(raw.cacheDir);
    if (c.cacheDir.trim() === '') throw new ConfigError('cache-dir', "expected a folder, got ''");
  }
  num('testFraction', (n) => n > 0 && n < 1, 'a fraction of the speakers in (0, 1)');
  // null (in a saved config) or the word the user types turns a setting off.
  const orWord = (key: 'trimSilence' | 'evalUtterances' | 'probeUtterances', word: string, check: (n: number) => boolean, what: string) => {
    const v = raw[key];
    if (v === undefined) return;
    c[key] = v === null || v === word ? null : numberOption(key, v, check, `${what}, or '${word}'`);
  };
  orWord('trimSilence', 'off', (n) => n > 0 && n <= 120, 'a level in dB in (0, 120]');
  orWord('evalUtterances', 'all', (n) => posInt(n) && n <= 1e7, 'a positive integer');
  orWord('probeUtterances', 'all', (n) => Number.isInteger(n) && n >= 2 && n <= 1e7, 'an integer ≥ 2');
  if (raw.init !== undefined) c.init = choiceOption('init', raw.init, ['data', 'normal'] as const);
  num('initStd', (n) => n > 0 && n <= 100, 'a positive standard deviation, at most 100');
  if (raw.backend !== undefined) c.backend = choiceOption('backend', raw.backend, ['cpu', 'gpujs'] as const);
  if (raw.threads !== undefined) c.threads = threadsOption(raw.threads);
  if (c.convChannels % c.groups !== 0) throw new ConfigError('groups', `${c.groups} groups do not divide the ${c.convChannels} feature channels`);
  if (c.dModel % c.heads !== 0) throw new ConfigError('heads', `${c.heads} heads do not divide --d-model ${c.dModel}`);
  const utterances = c.vocabulary * c.perWord + c.sequences;
  if (c.data === null && utterances > LIMITS.utterances) {
    throw new ConfigError('per-word', `--vocabulary ${c.vocabulary} × --per-word ${c.perWord} + --sequences ${c.sequences} makes ${utterances} utterances to synthesize, more than ${LIMITS.utterances} (about ${Math.round(LIMITS.utterances / 3 / 3600)} hours of espeak-ng)`);
  }
  checkMemory(c);
  return c;
}

/** Upper bounds of the settings that only grow time or files, not the model. */
export const LIMITS = { steps: 10_000_000, checkpointEvery: 1_000_000, utterances: 20_000 } as const;

/** The most memory a training step may need, by the estimate below. */
export const MAX_STEP_BYTES = 8 * 2 ** 30;

/**
 * A generous estimate of the bytes a training step (or an evaluation batch of 16) holds, so that
 * a model too large for memory is refused before it starts rather than killed half-way. With B
 * utterances of L = max-seconds × 16 kHz samples, T = L / 160 frames:
 *
 *   feature encoder  six conv maps of C channels, L/5 + L/10 + … ≈ 2L/5 values each, with their
 *                    norms, GELUs and gradients (× 4)
 *   transformer      per layer B·T·(8d + 2f) values, with gradients (× 2)
 *   attention        per layer H·T² weights per utterance (× 3: scores, softmax, dropout), with gradients (× 2)
 *   quantizer        B·T rows × G × M distances or logits (× 8: softmax, log-softmax, KNN, gradients)
 *   contrastive      B·T masked steps at most × (K + 1) candidates × e (× 4)
 *   parameters       transformer 4d² + 2df per layer, convolutions, codebook, projections (× 4 with Adam)
 */
export function stepBytes(c: SpeechConfig): { total: number; parts: Record<'encoder' | 'transformer' | 'attention' | 'quantizer' | 'contrastive' | 'parameters', number> } {
  const B = Math.max(c.batchSize, 16);
  const L = c.maxSeconds * 16000, T = Math.ceil(L / 160);
  const { convChannels: C, dModel: d, ffDim: f, layers, heads: H, codebookSize: M, groups: G, distractors: K, finalDim: e } = c;
  const parts = {
    encoder: 4 * 4 * B * C * ((2 * L) / 5),
    transformer: 4 * 2 * layers * B * T * (8 * d + 2 * f),
    attention: 4 * 2 * layers * B * 3 * H * T * T,
    quantizer: 4 * 8 * B * T * G * M,
    contrastive: 4 * 4 * B * T * (K + 1) * e,
    parameters: 4 * 4 * (layers * (4 * d * d + 2 * d * f) + 16 * C * C + 10 * C + 2 * M * C + C * d + d * d + 2 * d * e + C * e),
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

const GB = (b: number) => `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GB`;

function checkMemory(c: SpeechConfig): void {
  const { total, parts } = stepBytes(c);
  if (total <= MAX_STEP_BYTES) return;
  const [largest] = Object.entries(parts).sort((a, b) => b[1] - a[1])[0]!;
  const culprits: Record<string, [string, string]> = {
    encoder: ['batch-size', `--batch-size ${c.batchSize} × --max-seconds ${c.maxSeconds} of audio × --conv-channels ${c.convChannels}`],
    transformer: ['d-model', `--layers ${c.layers} × --d-model ${c.dModel} and --ff-dim ${c.ffDim} activations over --batch-size ${c.batchSize} × --max-seconds ${c.maxSeconds} of frames`],
    attention: ['max-seconds', `--layers ${c.layers} × --heads ${c.heads} attention maps of (--max-seconds ${c.maxSeconds} of frames)² for --batch-size ${c.batchSize} utterances`],
    quantizer: ['codebook-size', `--batch-size ${c.batchSize} × --max-seconds ${c.maxSeconds} of frames × --groups ${c.groups} × --codebook-size ${c.codebookSize} distances`],
    contrastive: ['distractors', `--distractors ${c.distractors} per masked step of --batch-size ${c.batchSize} × --max-seconds ${c.maxSeconds}, × --final-dim ${c.finalDim}`],
    parameters: ['d-model', `--layers ${c.layers} × --d-model ${c.dModel} × --ff-dim ${c.ffDim} weights, --codebook-size ${c.codebookSize} × --conv-channels ${c.convChannels} codes`],
  };
  const [option, what] = culprits[largest]!;
  throw new ConfigError(option, `a training step would need about ${GB(total)} (${what}), more than the ${GB(MAX_STEP_BYTES)} limit; choose smaller values`);
}
