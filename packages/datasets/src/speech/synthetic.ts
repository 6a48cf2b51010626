/**
 * A synthetic speech corpus spoken by eSpeak NG: single words and short sequences of them, by many
 * speakers (an English voice/accent, a voice variant, a base pitch and speed), resampled to 16 kHz
 * mono, trimmed and normalized (`normalizeSpeech`), labelled by word.
 *
 * Every choice comes from the seed, so the same settings give the same samples on every run. A
 * corpus is synthesized once (about 3 utterances/s on one core) and cached on disk as one file,
 * `<cacheDir>/speech-<hash of the settings>.bin`; later calls with the same settings read it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Generator } from '@simplex-vq/tensor';
import { ESPEAK_VARIANTS, ESPEAK_VOICES, espeakVariants, espeakWav } from './espeak.js';
import { SPEECH_SAMPLE_RATE, type SpeechCorpus, type Utterance } from './types.js';
import { normalizeSpeech, toMono16k } from './wav.js';

/** The digits. */
export const DIGIT_WORDS: readonly string[] = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** The default vocabulary: the 35 words of Google's Speech Commands (v2), digits first. */
export const DEFAULT_WORDS: readonly string[] = [
  ...DIGIT_WORDS,
  'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go',
  'backward', 'bed', 'bird', 'cat', 'dog', 'follow', 'forward', 'happy', 'house', 'learn',
  'marvin', 'sheila', 'tree', 'visual', 'wow',
];

export interface SpeechCorpusOptions {
  /** Folder of the cache (created if missing). */
  cacheDir: string;
  /** Seed of every choice (default 0). */
  seed?: number;
  /** The vocabulary (default `DEFAULT_WORDS`). */
  words?: readonly string[];
  /** Single-word utterances of each word (default 20). */
  utterancesPerWord?: number;
  /** Multi-word utterances (default 100). */
  sequences?: number;
  /** Words in a sequence, [min, max] (default [2, 4]); drawn from `words` with repetition. */
  sequenceLength?: readonly [number, number];
  /** Distinct speakers (default min(40, voices × variants)). */
  speakers?: number;
  /** espeak-ng voices (accents) to draw from (default `ESPEAK_VOICES`). */
  voices?: readonly string[];
  /** Voice variants to draw from (default `ESPEAK_VARIANTS`). */
  variants?: readonly string[];
  /** Range of a speaker's base pitch, espeak-ng `-p` 0–99 (default [25, 75]). */
  pitch?: readonly [number, number];
  /** Range of a speaker's base speed in words per minute, espeak-ng `-s` 80–450 (default [130, 210]). */
  speed?: readonly [number, number];
  /** Called after each synthesized utterance (not when the corpus comes from the cache). */
  onProgress?: (done: number, total: number) => void;
}

export interface SyntheticSpeechCorpus extends SpeechCorpus {
  /** True when read from the cache, false when synthesized by this call. */
  fromCache: boolean;
  /** The cache file. */
  cacheFile: string;
}

/** Utterance-level variation around a speaker's base settings. */
const PITCH_JITTER = 4;
const SPEED_JITTER = 0.08;
const CACHE_FORMAT = 1;
const MAGIC = 'SVQSPC01';

interface Speaker {
  voice: string;
  variant: string;
  pitch: number;
  speed: number;
}

interface Planned {
  words: string[];
  speaker: Speaker;
  pitch: number;
  speed: number;
}

/**
 * The corpus for these settings: from the cache when it holds them, else synthesized (calling
 * `onProgress`) and cached. Utterances come word-interleaved (every word once, then again, …), then
 * the sequences.
 */
export async function makeSpeechCorpus(opts: SpeechCorpusOptions): Promise<SyntheticSpeechCorpus> {
  const settings = resolveSettings(opts);
  const hash = createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
  const cacheFile = join(opts.cacheDir, `speech-${hash}.bin`);
  const cached = readCache(cacheFile, hash);
  if (cached) return { ...cached, fromCache: true, cacheFile };

  const known = await espeakVariants();
  const unknown = settings.variants.filter((v) => !known.has(v));
  if (unknown.length > 0) throw new Error(`espeak-ng has no voice variant ${unknown.join(', ')}`);
  const plan = planCorpus(settings);
  const utterances: Utterance[] = [];
  opts.onProgress?.(0, plan.length);
  for (const item of plan) {
    const text = item.words.join(' ');
    const voice = `${item.speaker.voice}+${item.speaker.variant}`;
    const wav = await espeakWav(text, voice, item.pitch, item.speed);
    utterances.push({
      samples: normalizeSpeech(toMono16k(wav)),
      label: text,
      words: item.words,
      speaker: speakerId(item.speaker),
      source: `espeak-ng -v ${voice} -p ${item.pitch} -s ${item.speed} "${text}"`,
    });
    opts.onProgress?.(utterances.length, plan.length);
  }
  const corpus: SpeechCorpus = { utterances, sampleRate: SPEECH_SAMPLE_RATE, labels: [...settings.words] };
  writeCache(cacheFile, hash, settings, corpus);
  return { ...corpus, fromCache: false, cacheFile };
}

type Settings = ReturnType<typeof resolveSettings>;

/** The options with defaults filled in and checked; everything that determines the samples (so the cache key). */
function resolveSettings(opts: SpeechCorpusOptions) {
  const voices = [...(opts.voices ?? ESPEAK_VOICES)];
  const variants = [...(opts.variants ?? ESPEAK_VARIANTS)];
  const words = [...(opts.words ?? DEFAULT_WORDS)];
  const s = {
    format: CACHE_FORMAT,
    espeakNg: packageVersion('espeak-ng'),
    wavefile: packageVersion('wavefile'),
    seed: opts.seed ?? 0,
    words,
    utterancesPerWord: opts.utterancesPerWord ?? 20,
    sequences: opts.sequences ?? 100,
    sequenceLength: [...(opts.sequenceLength ?? [2, 4])] as [number, number],
    speakers: opts.speakers ?? Math.min(40, voices.length * variants.length),
    voices,
    variants,
    pitch: [...(opts.pitch ?? [25, 75])] as [number, number],
    speed: [...(opts.speed ?? [130, 210])] as [number, number],
    jitter: { pitch: PITCH_JITTER, speed: SPEED_JITTER },
  };
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  const range = (name: string, [lo, hi]: [number, number], min: number, max: number) => {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < min || hi > max || lo > hi) {
      throw new RangeError(`${name} must be integers [lo, hi] with ${min} ≤ lo ≤ hi ≤ ${max}, got [${lo}, ${hi}]`);
    }
  };
  if (!Number.isFinite(s.seed)) throw new RangeError(`seed must be a number, got ${s.seed}`);
  if (words.length === 0 || words.some((w) => typeof w !== 'string' || w.trim() === '')) throw new RangeError('words must be non-empty strings');
  if (new Set(words).size !== words.length) throw new RangeError('words must be distinct');
  if (voices.length === 0 || variants.length === 0) throw new RangeError('voices and variants must not be empty');
  if (new Set(voices).size !== voices.length || new Set(variants).size !== variants.length) throw new RangeError('voices and variants must be distinct');
  int('utterancesPerWord', s.utterancesPerWord, 0);
  int('sequences', s.sequences, 0);
  if (s.utterancesPerWord * words.length + s.sequences === 0) throw new RangeError('the corpus would be empty: utterancesPerWord and sequences are 0');
  range('sequenceLength', s.sequenceLength, 2, 100);
  int('speakers', s.speakers, 1);
  if (s.speakers > voices.length * variants.length) {
    throw new RangeError(`speakers ${s.speakers} exceeds the ${voices.length * variants.length} voice × variant pairs`);
  }
  range('pitch', s.pitch, 0, 99);
  range('speed', s.speed, 80, 450);
  return s;
}

function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}

/** Every utterance to synthesize, drawn from the seed alone. */
function planCorpus(s: Settings): Planned[] {
  const g = new Generator(s.seed);
  const between = ([lo, hi]: readonly [number, number]) => g.randint(lo, hi + 1);
  const shuffled = <T>(items: readonly T[]): T[] => {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = g.randint(0, i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };

  // Speakers: distinct variants while there are enough (so held-out speakers have unseen
  // variants), with the voices taken in turn; else distinct voice × variant pairs.
  let pairs: Array<[string, string]>;
  if (s.speakers <= s.variants.length) {
    const variants = shuffled(s.variants), voices = shuffled(s.voices);
    pairs = Array.from({ length: s.speakers }, (_, i) => [voices[i % voices.length]!, variants[i]!]);
  } else {
    pairs = shuffled(s.voices.flatMap((voice) => s.variants.map((variant): [string, string] => [voice, variant]))).slice(0, s.speakers);
  }
  const speakers: Speaker[] = pairs.map(([voice, variant]) => ({ voice, variant, pitch: between(s.pitch), speed: between(s.speed) }));

  const utter = (words: string[], speaker: Speaker): Planned => ({
    words,
    speaker,
    pitch: Math.min(99, Math.max(0, speaker.pitch + g.randint(-PITCH_JITTER, PITCH_JITTER + 1))),
    speed: Math.min(450, Math.max(80, Math.round(speaker.speed * (1 + (2 * g.random() - 1) * SPEED_JITTER)))),
  });
  // Each word goes through the speakers in a shuffled order (reshuffled after each round).
  const perWord = s.words.map((word) => {
    const items: Planned[] = [];
    let order: Speaker[] = [];
    for (let k = 0; k < s.utterancesPerWord; k++) {
      if (k % speakers.length === 0) order = shuffled(speakers);
      items.push(utter([word], order[k % speakers.length]!));
    }
    return items;
  });
  const plan: Planned[] = [];
  for (let k = 0; k < s.utterancesPerWord; k++) for (const items of perWord) plan.push(items[k]!);
  for (let q = 0; q < s.sequences; q++) {
    const words = Array.from({ length: between(s.sequenceLength) }, () => s.words[g.randint(0, s.words.length)]!);
    plan.push(utter(words, speakers[g.randint(0, speakers.length)]!));
  }
  return plan;
}

function speakerId(s: Speaker): string {
  return `${s.voice}+${s.variant}/p${s.pitch}/s${s.speed}`;
}

/*
 * Cache file: the 8 ASCII bytes `SVQSPC01`; the header's byte length (uint32, little-endian); the
 * header, UTF-8 JSON padded with spaces to a multiple of 4 bytes ({ hash, settings, sampleRate,
 * labels, utterances: [{ label, words, speaker, source, length }] }); then every utterance's
 * samples in order, float32 little-endian.
 */

interface CacheHeader {
  hash: string;
  settings: Settings;
  sampleRate: number;
  labels: string[];
  utterances: Array<Omit<Utterance, 'samples'> & { length: number }>;
}

function writeCache(file: string, hash: string, settings: Settings, corpus: SpeechCorpus): void {
  const header: CacheHeader = {
    hash,
    settings,
    sampleRate: corpus.sampleRate,
    labels: corpus.labels,
    utterances: corpus.utterances.map(({ samples, ...rest }) => ({ ...rest, length: samples.length })),
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, ' ')]);
  const total = corpus.utterances.reduce((n, u) => n + u.samples.length, 0);
  const start = MAGIC.length + 4 + json.length;
  const buf = Buffer.alloc(start + 4 * total);
  buf.write(MAGIC, 0, 'ascii');
  buf.writeUInt32LE(json.length, MAGIC.length);
  json.copy(buf, MAGIC.length + 4);
  let at = start;
  for (const u of corpus.utterances) {
    for (const v of u.samples) {
      buf.writeFloatLE(v, at);
      at += 4;
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, buf);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The cached corpus, or null when the file is missing, damaged, or holds other settings. */
function readCache(file: string, hash: string): SpeechCorpus | null {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return null;
  }
  try {
    if (buf.toString('ascii', 0, MAGIC.length) !== MAGIC) return null;
    const headerLength = buf.readUInt32LE(MAGIC.length);
    const start = MAGIC.length + 4 + headerLength;
    const header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, start)) as CacheHeader;
    if (header.hash !== hash || header.sampleRate !== SPEECH_SAMPLE_RATE) return null;
    const total = header.utterances.reduce((n, u) => n + u.length, 0);
    if (buf.length !== start + 4 * total) return null;
    let at = start;
    const utterances = header.utterances.map(({ length, ...rest }): Utterance => {
      const samples = new Float32Array(length);
      for (let i = 0; i < length; i++, at += 4) samples[i] = buf.readFloatLE(at);
      return { samples, ...rest };
    });
    return { utterances, sampleRate: SPEECH_SAMPLE_RATE, labels: header.labels };
  } catch {
    return null;
  }
}
