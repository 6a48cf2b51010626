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
  /** How codebooks start: drawn from the encoder's outputs of the first batch, or N(0, initStd²). */
  init: 'data' | 'normal';
  initStd: number;
  backend: 'cpu' | 'gpujs';
  /** CPU threads for large products ('auto': every core); not part of a run's identity. */
  threads: number | 'auto';
}

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
  if (raw.method !== undefined) {
    const m = String(raw.method);
    if (!isMethod(m)) throw new ConfigError('method', `unknown method '${m}'; choose one of ${METHODS.join(', ')}`);
    c.method = m;
  }
  for (const key of ['groups', 'codebookSize', 'convChannels', 'dModel', 'layers', 'heads', 'ffDim', 'finalDim', 'k', 'shards', 'steps', 'batchSize', 'maskSpan', 'distractors', 'checkpointEvery'] as const) {
    num(key, posInt, 'a positive integer');
  }
  num('seed', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
  num('vocabulary', (n) => Number.isInteger(n) && n >= 2 && n <= 35, 'an integer in [2, 35]');
  num('perWord', posInt, 'a positive integer');
  num('speakers', (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2');
  num('sequences', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
  num('corpusSeed', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
  num('lr', (n) => n > 0 && n < 10, 'a learning rate in (0, 10)');
  num('maxSeconds', (n) => n >= 0.2 && n <= 30, 'a duration in seconds in [0.2, 30]');
  num('maskProb', (n) => n > 0 && n < 1, 'a probability in (0, 1)');
  num('temperature', (n) => n > 0, 'a positive number');
  if (raw.data !== undefined) c.data = raw.data === null ? null : String(raw.data);
  for (const key of ['labelPattern', 'speakerPattern'] as const) {
    if (raw[key] === undefined || raw[key] === null) continue;
    const p = String(raw[key]);
    try {
      new RegExp(p);
    } catch (e) {
      throw new ConfigError(key === 'labelPattern' ? 'label-pattern' : 'speaker-pattern', `not a regular expression: ${(e as Error).message}`);
    }
    c[key] = p;
  }
  if (raw.cacheDir !== undefined) c.cacheDir = String(raw.cacheDir);
  num('testFraction', (n) => n > 0 && n < 1, 'a fraction of the speakers in (0, 1)');
  // null (in a saved config) or the word the user types turns a setting off.
  const orWord = (key: 'trimSilence' | 'evalUtterances' | 'probeUtterances', word: string, check: (n: number) => boolean, what: string) => {
    const v = raw[key];
    if (v === undefined) return;
    c[key] = v === null || v === word ? null : numberOption(key, v, check, `${what}, or '${word}'`);
  };
  orWord('trimSilence', 'off', (n) => n > 0 && n <= 120, 'a level in dB in (0, 120]');
  orWord('evalUtterances', 'all', posInt, 'a positive integer');
  orWord('probeUtterances', 'all', (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2');
  if (raw.init !== undefined) c.init = choiceOption('init', raw.init, ['data', 'normal'] as const);
  num('initStd', (n) => n > 0, 'a positive standard deviation');
  if (raw.backend !== undefined) c.backend = choiceOption('backend', raw.backend, ['cpu', 'gpujs'] as const);
  if (raw.threads !== undefined) c.threads = threadsOption(raw.threads);
  if (c.convChannels % c.groups !== 0) throw new ConfigError('groups', `${c.groups} groups do not divide the ${c.convChannels} feature channels`);
  if (c.dModel % c.heads !== 0) throw new ConfigError('heads', `${c.heads} heads do not divide --d-model ${c.dModel}`);
  return c;
}
