/**
 * The utterances of a run (synthetic corpus or a WAV folder), split by speaker, and padded batches.
 */
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import { DEFAULT_WORDS, DatasetError, loadWavFolder, makeSpeechCorpus, splitBySpeaker, SPEECH_SAMPLE_RATE, type SpeechCorpus, type Utterance, type WavFolder } from '@simplex-vq/datasets';
import { makeFolder } from '@simplex-vq/app-kit';
import { ConfigError, type SpeechConfig } from './config.js';
import { framesOf } from './model.js';

export interface SpeechData {
  train: SpeechCorpus;
  test: SpeechCorpus;
  /** Words the probe predicts (single-word utterances only). */
  labels: string[];
  description: string;
  /** Speakers of each side of the split, sorted. */
  trainSpeakers: string[];
  heldOutSpeakers: string[];
  /** Set when --test-fraction rounded to no speaker or to all of them and one each side was kept instead. */
  splitNote: string | null;
}

export async function loadSpeechData(c: SpeechConfig, log: (msg: string) => void, onProgress?: (done: number, total: number) => void): Promise<SpeechData> {
  let corpus: SpeechCorpus;
  let description: string;
  if (c.data) {
    const trim = c.trimSilence;
    let folder: WavFolder;
    try {
      folder = await loadWavFolder(c.data, {
        labelPattern: c.labelPattern ?? undefined,
        speakerPattern: c.speakerPattern ?? undefined,
        recursive: true,
        trim: trim !== null,
        trimDb: trim ?? undefined,
        minSamples: MIN_SAMPLES,
        onSkip: (file, reason) => log(`skipped ${file}: ${reason}`),
      });
    } catch (e) {
      if (e instanceof DatasetError) throw new ConfigError('data', e.message);
      throw e;
    }
    if (folder.skipped.length > 0) log(`skipped ${folder.skipped.length} of ${folder.skipped.length + folder.utterances.length} WAV files (each named above)`);
    corpus = folder;
    description = `${folder.utterances.length} WAV files from ${c.data}${folder.skipped.length ? ` (${folder.skipped.length} skipped)` : ''}${trim === null ? '' : `, silence trimmed at ${trim} dB`}`;
    const speakers = [...new Set(folder.utterances.map((u) => u.speaker))].sort();
    if (speakers.length < 2) {
      const from = c.speakerPattern === null ? `their subfolder ('${speakers[0]}')` : `--speaker-pattern '${c.speakerPattern}' ('${speakers[0]}'; files it does not match go by subfolder)`;
      throw new ConfigError('speaker-pattern', `found 1 speaker in the ${folder.utterances.length} WAV files, from ${from}; speakers are held out for the test, so at least 2 are needed: give --speaker-pattern <regex> whose first group is the speaker in a file name, e.g. '^\\d+_([a-z]+)_' for 7_jackson_32.wav`);
    }
  } else {
    makeFolder(c.cacheDir, 'cache-dir'); // one level at a time: a recursive mkdir spins for ever under /proc
    const synth = await makeSpeechCorpus({
      cacheDir: c.cacheDir,
      seed: c.corpusSeed,
      words: DEFAULT_WORDS.slice(0, c.vocabulary),
      utterancesPerWord: c.perWord,
      sequences: c.sequences,
      speakers: c.speakers,
      onProgress,
    });
    corpus = synth;
    description = `synthetic espeak-ng corpus (seed ${c.corpusSeed}): ${synth.utterances.length} utterances${synth.fromCache ? ', from the cache' : ''}`;
  }
  const { train, test } = splitBySpeaker(corpus, { testFraction: c.testFraction, seed: c.corpusSeed });
  const speakersOf = (s: SpeechCorpus) => [...new Set(s.utterances.map((u) => u.speaker))].sort();
  const trainSpeakers = speakersOf(train), heldOutSpeakers = speakersOf(test);
  const n = trainSpeakers.length + heldOutSpeakers.length;
  // splitBySpeaker never leaves a side empty with 2 or more speakers; this guards that promise.
  if (trainSpeakers.length === 0 || heldOutSpeakers.length === 0) throw new ConfigError('test-fraction', `the split of ${n} speakers leaves ${trainSpeakers.length} for training and ${heldOutSpeakers.length} held out; each side needs one`);
  const asked = Math.round(c.testFraction * n);
  const splitNote = asked === heldOutSpeakers.length ? null : `--test-fraction ${c.testFraction} of ${n} speakers rounds to ${asked}; ${heldOutSpeakers.length} held out instead, so that each side has one`;
  const single = (u: Utterance) => u.label !== '' && u.words.length <= 1;
  const labels = [...new Set(corpus.utterances.filter(single).map((u) => u.label))].sort();
  return { train, test, labels, description, trainSpeakers, heldOutSpeakers, splitNote };
}

/**
 * At most `cap` of the indices 0 … n − 1, evenly spread (every (n / cap)-th): the same subset for
 * every run, covering the whole corpus order (its speakers and words) rather than its start.
 */
export function spread(n: number, cap: number | null): number[] {
  const k = cap === null ? n : Math.min(n, cap);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

export interface Batch {
  /** [B, L] samples, zero-padded. */
  wave: Tensor;
  /** Valid frames of each utterance. */
  frames: number[];
  /** Frames of the padded batch. */
  T: number;
}

/** Utterances `idx` of `set`, each cropped to `maxSamples` (at a random offset) and padded. */
export function makeBatch(set: SpeechCorpus, idx: ArrayLike<number>, maxSamples: number, g: Generator | null): Batch {
  const parts = Array.from(idx, (i) => {
    const s = set.utterances[i]!.samples;
    if (s.length <= maxSamples) return s;
    const start = g ? g.randint(0, s.length - maxSamples + 1) : 0;
    return s.subarray(start, start + maxSamples);
  });
  const L = Math.max(...parts.map((p) => p.length), 400);
  const data = new Float32Array(parts.length * L);
  parts.forEach((p, b) => data.set(p, b * L));
  return { wave: tensor(data, { shape: [parts.length, L] }), frames: parts.map((p) => Math.max(framesOf(p.length), 1)), T: framesOf(L) };
}

export const maxSamplesOf = (c: SpeechConfig) => Math.round(c.maxSeconds * SPEECH_SAMPLE_RATE);

/** The fewest samples that give two frames, what the contrastive task needs of an utterance (a target and a distractor); shorter files are skipped. */
export const MIN_SAMPLES = (() => {
  let n = 1;
  while (framesOf(n) < 2) n++;
  return n;
})();
