/**
 * The utterances of a run (synthetic corpus or a WAV folder), split by speaker, and padded batches.
 */
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import { DEFAULT_WORDS, loadWavFolder, makeSpeechCorpus, splitBySpeaker, SPEECH_SAMPLE_RATE, type SpeechCorpus, type Utterance } from '@simplex-vq/datasets';
import type { SpeechConfig } from './config.js';
import { framesOf } from './model.js';

export interface SpeechData {
  train: SpeechCorpus;
  test: SpeechCorpus;
  /** Words the probe predicts (single-word utterances only). */
  labels: string[];
  description: string;
}

export async function loadSpeechData(c: SpeechConfig, log: (msg: string) => void, onProgress?: (done: number, total: number) => void): Promise<SpeechData> {
  let corpus: SpeechCorpus;
  let description: string;
  if (c.data) {
    const folder = await loadWavFolder(c.data, { labelPattern: c.labelPattern ?? undefined, speakerPattern: c.speakerPattern ?? undefined, recursive: true, onSkip: (file, reason) => log(`skipped ${file}: ${reason}`) });
    corpus = folder;
    description = `${folder.utterances.length} WAV files from ${c.data}${folder.skipped.length ? ` (${folder.skipped.length} skipped)` : ''}`;
  } else {
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
  const { train, test } = splitBySpeaker(corpus, { testFraction: 0.2, seed: c.corpusSeed });
  const single = (u: Utterance) => u.label !== '' && u.words.length <= 1;
  const labels = [...new Set(corpus.utterances.filter(single).map((u) => u.label))].sort();
  return { train, test, labels, description };
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
