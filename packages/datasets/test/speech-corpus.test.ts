/**
 * The synthetic corpus, kept tiny (2 words × 2 utterances + 1 sequence, 2 speakers): each
 * utterance is one espeak-ng run of about 0.3 s.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESPEAK_VARIANTS, makeSpeechCorpus, splitBySpeaker, type SpeechCorpusOptions, type SyntheticSpeechCorpus } from '../src/index.js';

const TINY = { words: ['seven', 'two'], utterancesPerWord: 2, sequences: 1, speakers: 2 } satisfies Partial<SpeechCorpusOptions>;

describe('makeSpeechCorpus', () => {
  let root: string;
  let a: SyntheticSpeechCorpus, again: SyntheticSpeechCorpus, otherSeed: SyntheticSpeechCorpus, cached: SyntheticSpeechCorpus;
  const progress: Array<[number, number]> = [], cachedProgress: Array<[number, number]> = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'speech-corpus-'));
    a = await makeSpeechCorpus({ ...TINY, seed: 1, cacheDir: join(root, 'a'), onProgress: (d, t) => progress.push([d, t]) });
    again = await makeSpeechCorpus({ ...TINY, seed: 1, cacheDir: join(root, 'b') }); // synthesized anew
    otherSeed = await makeSpeechCorpus({ ...TINY, seed: 2, cacheDir: join(root, 'a') });
    cached = await makeSpeechCorpus({ ...TINY, seed: 1, cacheDir: join(root, 'a'), onProgress: (d, t) => cachedProgress.push([d, t]) });
  }, 300_000); // three syntheses with espeak-ng: ~20 s alone, over 60 s when CI runs every package at once

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('holds the planned utterances, labelled by word, word-interleaved, then the sequences', () => {
    expect(a.sampleRate).toBe(16000);
    expect(a.labels).toEqual(['seven', 'two']);
    expect(a.utterances.slice(0, 4).map((u) => u.label)).toEqual(['seven', 'two', 'seven', 'two']);
    for (const u of a.utterances.slice(0, 4)) expect(u.words).toEqual([u.label]);
    const seq = a.utterances[4]!;
    expect(seq.words.length).toBeGreaterThanOrEqual(2);
    expect(seq.words.length).toBeLessThanOrEqual(4);
    expect(seq.words.every((w) => a.labels.includes(w))).toBe(true);
    expect(seq.label).toBe(seq.words.join(' '));
    expect(a.utterances.length).toBe(5);
    expect(progress).toEqual([[0, 5], [1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
  });

  it('uses the requested number of speakers, each saying every word', () => {
    const speakers = new Set(a.utterances.map((u) => u.speaker));
    expect(speakers.size).toBe(2);
    for (const s of speakers) {
      expect(s).toMatch(/^en[\w-]*\+\w+\/p\d+\/s\d+$/);
      expect(ESPEAK_VARIANTS).toContain(s.split('+')[1]!.split('/')[0]);
      expect(a.utterances.filter((u) => u.speaker === s && u.words.length === 1).map((u) => u.label).sort()).toEqual(['seven', 'two']);
    }
    expect(a.utterances[0]!.source).toMatch(/^espeak-ng -v \S+ -p \d+ -s \d+ "seven"$/);
    const { train, test } = splitBySpeaker(a, { testFraction: 0.5 });
    expect(new Set(test.utterances.map((u) => u.speaker)).size).toBe(1);
    expect(test.utterances.some((u) => train.utterances.some((v) => v.speaker === u.speaker))).toBe(false);
  });

  it('is 16 kHz speech: trimmed, zero mean, unit RMS', () => {
    for (const u of a.utterances) {
      const seconds = u.samples.length / 16000;
      expect(seconds, u.label).toBeGreaterThan(u.words.length * 0.2);
      expect(seconds, u.label).toBeLessThan(u.words.length * 1.2);
      let mean = 0, energy = 0, peak = 0;
      for (const v of u.samples) {
        mean += v;
        peak = Math.max(peak, Math.abs(v));
      }
      mean /= u.samples.length;
      for (const v of u.samples) energy += (v - mean) ** 2;
      expect(Math.abs(mean)).toBeLessThan(1e-4);
      expect(Math.sqrt(energy / u.samples.length)).toBeCloseTo(1, 3);
      // espeak-ng pads about 0.3 s of silence at the end; at most the 50 ms margin (+ one 10 ms frame) is left.
      const quiet = (v: number) => Math.abs(v) < 1e-3 * peak;
      let lead = 0, trail = 0;
      while (quiet(u.samples[lead]!)) lead++;
      while (quiet(u.samples[u.samples.length - 1 - trail]!)) trail++;
      expect(lead, u.label).toBeLessThanOrEqual(960);
      expect(trail, u.label).toBeLessThanOrEqual(960);
    }
  });

  it('is deterministic for a seed and differs for another', () => {
    expect(again.fromCache).toBe(false);
    expect(again.cacheFile).not.toBe(a.cacheFile);
    expect(again.utterances.map(({ samples, ...rest }) => rest)).toEqual(a.utterances.map(({ samples, ...rest }) => rest));
    for (let i = 0; i < a.utterances.length; i++) expect(again.utterances[i]!.samples).toEqual(a.utterances[i]!.samples);
    expect(otherSeed.fromCache).toBe(false);
    expect(otherSeed.cacheFile).not.toBe(a.cacheFile);
    expect(otherSeed.utterances.map((u) => u.source)).not.toEqual(a.utterances.map((u) => u.source));
    expect(otherSeed.utterances[0]!.samples).not.toEqual(a.utterances[0]!.samples);
  });

  it('reads a second call with the same settings from the cache', () => {
    expect(a.fromCache).toBe(false);
    expect(existsSync(a.cacheFile)).toBe(true);
    expect(cached.fromCache).toBe(true);
    expect(cachedProgress).toEqual([]); // nothing synthesized
    expect(cached.cacheFile).toBe(a.cacheFile);
    expect(cached.labels).toEqual(a.labels);
    expect(cached.utterances.map(({ samples, ...rest }) => rest)).toEqual(a.utterances.map(({ samples, ...rest }) => rest));
    for (let i = 0; i < a.utterances.length; i++) expect(cached.utterances[i]!.samples).toEqual(a.utterances[i]!.samples);
  });

  it('rebuilds a damaged cache file', async () => {
    const opts = { words: ['one'], utterancesPerWord: 1, sequences: 0, speakers: 1, cacheDir: join(root, 'c') };
    const first = await makeSpeechCorpus(opts);
    writeFileSync(first.cacheFile, 'SVQSPC01 truncated');
    const rebuilt = await makeSpeechCorpus(opts);
    expect(rebuilt.fromCache).toBe(false);
    expect(rebuilt.utterances[0]!.samples).toEqual(first.utterances[0]!.samples);
    expect((await makeSpeechCorpus(opts)).fromCache).toBe(true);
  });

  it('rejects bad settings before synthesizing', async () => {
    const cacheDir = join(root, 'd');
    await expect(makeSpeechCorpus({ ...TINY, cacheDir, speakers: 3, voices: ['en-us'], variants: ['m1', 'f1'] })).rejects.toThrow(/speakers 3 exceeds the 2/);
    await expect(makeSpeechCorpus({ ...TINY, cacheDir, pitch: [50, 120] })).rejects.toThrow(/pitch/);
    await expect(makeSpeechCorpus({ ...TINY, cacheDir, words: ['a', 'a'] })).rejects.toThrow(/distinct/);
    await expect(makeSpeechCorpus({ ...TINY, cacheDir, variants: ['m1', 'no-such-variant'] })).rejects.toThrow(/no voice variant no-such-variant/);
    await expect(makeSpeechCorpus({ ...TINY, cacheDir, voices: ['xx-none'], variants: ['m1'], speakers: 1 })).rejects.toThrow(/espeak-ng -v xx-none\+m1 failed: .*does not exist/);
    expect(existsSync(cacheDir)).toBe(false);
  });
});
