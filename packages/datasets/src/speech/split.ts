/** Held-out speakers: the linear probe of the speech experiment is tested on voices it never saw. */
import { Generator } from '@simplex-vq/tensor';
import type { SpeechCorpus } from './types.js';

export interface SpeakerSplitOptions {
  /** Fraction of the speakers held out for the test set (default 0.2; at least one speaker each side). */
  testFraction?: number;
  /** Seed of the choice of test speakers (default 0). */
  seed?: number;
}

/**
 * Splits a corpus by speaker: no speaker is in both sets. round(testFraction × speakers) speakers,
 * drawn from the seed, form the test set (clamped to 1 … speakers − 1). Both keep the corpus's
 * labels and its order of utterances.
 */
export function splitBySpeaker(corpus: SpeechCorpus, opts: SpeakerSplitOptions = {}): { train: SpeechCorpus; test: SpeechCorpus } {
  const fraction = opts.testFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`testFraction must be in (0, 1), got ${fraction}`);
  const speakers = [...new Set(corpus.utterances.map((u) => u.speaker))].sort();
  if (speakers.length < 2) throw new Error(`a speaker split needs at least 2 speakers, the corpus has ${speakers.length}`);
  const g = new Generator(opts.seed ?? 0);
  for (let i = speakers.length - 1; i > 0; i--) {
    const j = g.randint(0, i + 1);
    [speakers[i], speakers[j]] = [speakers[j]!, speakers[i]!];
  }
  const count = Math.min(speakers.length - 1, Math.max(1, Math.round(fraction * speakers.length)));
  const test = new Set(speakers.slice(0, count));
  const part = (inTest: boolean): SpeechCorpus => ({
    utterances: corpus.utterances.filter((u) => test.has(u.speaker) === inTest),
    sampleRate: corpus.sampleRate,
    labels: corpus.labels,
  });
  return { train: part(false), test: part(true) };
}
