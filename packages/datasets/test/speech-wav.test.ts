import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '@simplex-vq/tensor';
import { DatasetError, WavError, checkWav, loadWavFolder, normalizeSpeech, splitBySpeaker, toMono16k, type SpeechCorpus, type WavFolder } from '../src/index.js';

/** A WAV file of `channels` (values in [-1, 1]) with the given wavefile bit depth code. */
function wav(bitDepth: string, rate: number, channels: Float64Array[]): Uint8Array {
  const bits = Number.parseInt(bitDepth, 10);
  const float = bitDepth === '32f' || bitDepth === '64';
  const code = (v: number) => {
    if (float) return v;
    const half = 2 ** (bits - 1);
    const q = Math.max(-half, Math.min(half - 1, Math.round(v * half)));
    return bits <= 8 ? q + half : q;
  };
  const w = new wavefile.WaveFile();
  const data = channels.map((c) => Array.from(c, code));
  w.fromScratch(channels.length, rate, bitDepth, channels.length === 1 ? data[0]! : data);
  return w.toBuffer();
}

function sine(freq: number, rate: number, seconds: number, amplitude = 0.5): Float64Array {
  return Float64Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Frequency from the zero crossings (ignoring 20 ms at each end, where filters ring). */
function zeroCrossingHz(x: Float32Array, rate = 16000): number {
  const skip = Math.round(0.02 * rate);
  let crossings = 0, first = -1, last = -1;
  for (let i = skip + 1; i < x.length - skip; i++) {
    if (x[i - 1]! < 0 !== x[i]! < 0) {
      crossings++;
      if (first < 0) first = i;
      last = i;
    }
  }
  return ((crossings - 1) / 2) * (rate / (last - first));
}

const peak = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const stats = (x: Float32Array) => {
  let m = 0, e = 0;
  for (const v of x) m += v;
  m /= x.length;
  for (const v of x) e += (v - m) ** 2;
  return { mean: m, rms: Math.sqrt(e / x.length) };
};

describe('toMono16k', () => {
  it('decodes 8/16/24/32-bit PCM and 32/64-bit float to [-1, 1]', () => {
    const x = Float64Array.from([0, 0.5, -0.5, 0.25, -1, 0.999]);
    for (const [depth, tol] of [['8', 1 / 128], ['16', 1 / 32768], ['24', 1e-6], ['32', 1e-9], ['32f', 1e-7], ['64', 0]] as const) {
      const y = toMono16k(wav(depth, 16000, [x]));
      expect(y.length, depth).toBe(x.length);
      for (let i = 0; i < x.length; i++) expect(Math.abs(y[i]! - x[i]!), `${depth} sample ${i}`).toBeLessThanOrEqual(tol + 1e-7);
    }
  });

  it('averages channels', () => {
    const y = toMono16k(wav('16', 16000, [sine(300, 16000, 0.2, 0.6), sine(300, 16000, 0.2, 0.2)]));
    expect(peak(y)).toBeCloseTo(0.4, 2);
  });

  it('decodes A-law', () => {
    const w = new wavefile.WaveFile(wav('16', 16000, [sine(300, 16000, 0.1)]));
    w.toALaw();
    const y = toMono16k(w.toBuffer());
    expect(y.length).toBe(1600);
    expect(peak(y)).toBeCloseTo(0.5, 1);
  });

  it('keeps a sine wave\'s frequency within 2% through resampling', () => {
    for (const [freq, rate] of [[440, 44100], [1000, 8000], [2500, 22050], [200, 48000], [3000, 11025], [1000, 44056]]) {
      const y = toMono16k(wav('32f', rate, [sine(freq, rate, 0.5)]));
      expect(Math.abs(y.length - 8000), `${rate} Hz length`).toBeLessThanOrEqual(2);
      expect(Math.abs(zeroCrossingHz(y) / freq - 1), `${freq} Hz from ${rate} Hz`).toBeLessThan(0.02);
      expect(stats(y).rms, `${freq} Hz from ${rate} Hz keeps its level`).toBeCloseTo(0.5 / Math.SQRT2, 1);
    }
  });

  it('filters out what lies above 8 kHz instead of aliasing it', () => {
    const y = toMono16k(wav('32f', 44100, [sine(12000, 44100, 0.5)]));
    expect(stats(y).rms).toBeLessThan(0.01);
  });

  it('throws on bytes that are not a WAV file', () => {
    expect(() => toMono16k(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/not a readable WAV/);
  });
});

describe('normalizeSpeech', () => {
  it('removes DC and scales to unit RMS', () => {
    const x = Float32Array.from(sine(200, 16000, 0.3, 0.05), (v) => v + 0.3);
    const y = normalizeSpeech(x, { trim: false });
    expect(y.length).toBe(x.length);
    expect(Math.abs(stats(y).mean)).toBeLessThan(1e-5);
    expect(stats(y).rms).toBeCloseTo(1, 4);
    expect(y).not.toBe(x);
  });

  it('trims silence, keeping a 50 ms margin', () => {
    const speech = sine(300, 16000, 0.2);
    const x = new Float32Array(16000 + speech.length + 8000);
    x.set(speech, 16000); // 1 s of silence before, 0.5 s after
    const y = normalizeSpeech(x);
    expect(y.length).toBe(speech.length + 2 * 800);
    expect(stats(y).rms).toBeCloseTo(1, 4);
    const offset = normalizeSpeech(x.map((v) => v + 0.2)); // a DC offset is not sound
    expect(offset.length).toBe(y.length);
    expect(Math.abs(stats(offset).mean)).toBeLessThan(1e-5);
  });

  it('leaves silence as zeros', () => {
    const y = normalizeSpeech(new Float32Array(500));
    expect(y.length).toBe(500);
    expect(y.every((v) => v === 0)).toBe(true);
  });
});

describe('loadWavFolder', () => {
  let dir: string;
  let folder: WavFolder;
  const skippedByCallback: string[] = [];
  // name → [bit depth, sample rate, channels, seconds]
  const files: Record<string, [string, number, number, number]> = {
    '0_ann_1.wav': ['16', 16000, 1, 0.5],
    '1_bob_1.wav': ['8', 8000, 1, 0.25],
    '2_ann_2.wav': ['24', 44100, 2, 0.3],
    '3_bob_2.wav': ['32', 22050, 1, 0.4],
    '4_ann_3.wav': ['32f', 48000, 2, 0.35],
    '10_bob_3.WAV': ['64', 11025, 1, 0.2],
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'speech-wav-'));
    for (const [name, [depth, rate, channels, seconds]] of Object.entries(files)) {
      writeFileSync(join(dir, name), wav(depth, rate, Array.from({ length: channels }, () => sine(440, rate, seconds))));
    }
    const g = new Generator(5);
    writeFileSync(join(dir, '5_bad_1.wav'), Uint8Array.from({ length: 2000 }, () => g.randint(0, 256)));
    writeFileSync(join(dir, 'unlabelled.wav'), wav('16', 16000, [sine(440, 16000, 0.1)]));
    writeFileSync(join(dir, 'notes.txt'), 'not audio');
    mkdirSync(join(dir, 'more'));
    writeFileSync(join(dir, 'more', '7_cy_1.wav'), wav('16', 16000, [sine(440, 16000, 0.1)]));
    folder = await loadWavFolder(dir, { labelPattern: /^(\d+)_/, speakerPattern: '^\\d+_([a-z]+)_', onSkip: (f) => skippedByCallback.push(f) });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads every format as 16 kHz mono with the right duration', () => {
    expect(folder.sampleRate).toBe(16000);
    expect(folder.utterances.map((u) => u.source!.slice(dir.length + 1))).toEqual(['0_ann_1.wav', '10_bob_3.WAV', '1_bob_1.wav', '2_ann_2.wav', '3_bob_2.wav', '4_ann_3.wav']);
    for (const u of folder.utterances) {
      const [, , , seconds] = files[u.source!.slice(dir.length + 1)]!;
      expect(Math.abs(u.samples.length - seconds * 16000), u.source).toBeLessThanOrEqual(2);
      expect(Math.abs(zeroCrossingHz(u.samples) / 440 - 1), u.source).toBeLessThan(0.02);
      expect(stats(u.samples).rms, u.source).toBeCloseTo(1, 3); // normalized by default
    }
  });

  it('labels from the pattern\'s first group, speakers from theirs', () => {
    expect(folder.utterances.map((u) => u.label)).toEqual(['0', '10', '1', '2', '3', '4']);
    expect(folder.utterances[0]!.words).toEqual(['0']);
    expect(folder.labels).toEqual(['0', '1', '2', '3', '4', '10']);
    expect(folder.utterances.map((u) => u.speaker)).toEqual(['ann', 'bob', 'bob', 'ann', 'bob', 'ann']);
  });

  it('reports and skips an unreadable file and names that do not match the pattern', () => {
    expect(folder.skipped.map((s) => s.file.slice(dir.length + 1))).toEqual(['5_bad_1.wav', 'unlabelled.wav']);
    expect(folder.skipped[0]!.reason).toMatch(/not a RIFF\/WAVE file/);
    expect(folder.skipped[1]!.reason).toMatch(/does not match the label pattern/);
    expect(skippedByCallback).toEqual(folder.skipped.map((s) => s.file));
  });

  it('reads subfolders when recursive; without a pattern labels are empty and speakers are folders', async () => {
    const all = await loadWavFolder(dir, { recursive: true, normalize: false, onSkip: () => {} });
    expect(all.utterances.length).toBe(8);
    expect(all.skipped.length).toBe(1);
    expect(all.labels).toEqual([]);
    expect(all.utterances.every((u) => u.label === '' && u.words.length === 0)).toBe(true);
    expect(all.utterances.find((u) => u.source!.includes('7_cy_1'))!.speaker).toBe('more');
    expect(all.utterances[0]!.speaker).toBe('.');
    expect(peak(all.utterances[0]!.samples)).toBeCloseTo(0.5, 3); // not normalized
  });

  it('throws for a missing folder, a file, or a folder without a readable WAV', async () => {
    await expect(loadWavFolder(join(dir, 'missing'))).rejects.toThrow(/WAV folder not found/);
    await expect(loadWavFolder(join(dir, 'notes.txt'))).rejects.toThrow(/not a folder/);
    const bad = mkdtempSync(join(tmpdir(), 'speech-bad-'));
    try {
      writeFileSync(join(bad, 'x.wav'), 'RIFF nonsense');
      await expect(loadWavFolder(bad)).rejects.toThrow(/no readable WAV file .*1 skipped/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});

describe('damaged and unusable WAV files', () => {
  const good = () => Buffer.from(wav('16', 16000, [sine(440, 16000, 0.05)])); // 800 samples, data at byte 44
  const with16 = (b: Buffer, at: number, v: number) => (b.writeUInt16LE(v, at), b);
  // name → [bytes, what the reason says]
  const cases: Record<string, [Uint8Array, RegExp]> = {
    'ms-adpcm.wav': [with16(good(), 20, 2), /format tag 2 \(Microsoft ADPCM\) is not supported; supported: PCM \(1\)/],
    'mp3.wav': [with16(good(), 20, 0x55), /format tag 85 \(MPEG Layer 3\) is not supported/],
    'truncated.wav': [good().subarray(0, 44 + 1000), /the data chunk declares 1600 bytes, but only 1000 follow \(truncated file\?\)/],
    'too-long.wav': [Buffer.concat([good(), Buffer.from(wav('16', 16000, [sine(300, 16000, 0.01)]).subarray(44))]), /the 320 bytes after the data chunk are not a chunk: the data is longer than its header says \(1600 bytes\)/],
    'pcm12.wav': [with16(good(), 34, 12), /PCM with 12 bits per sample is not supported \(8, 16, 24, 32 bits are\)/],
    'pcm64.wav': [Buffer.from(wav('32', 16000, [sine(440, 16000, 0.05)])).fill(0, 0, 0), /./], // replaced below
    'loud-float.wav': [wav('32f', 16000, [Float64Array.from({ length: 800 }, (_, i) => (i === 300 ? 1.5 : 0.1))]), /sample 300 \(at 0\.019 s\) is 1\.5, outside \[-1, 1\] after decoding/],
    'short.wav': [wav('16', 16000, [sine(440, 16000, 0.01)]), /too short: 160 samples at 16 kHz, fewer than the 400 needed/],
    'empty.wav': [wav('16', 16000, [new Float64Array(0)]), /holds no samples/],
    'rate.wav': [(() => { const b = good(); b.writeUInt32LE(1, 24); return b; })(), /sample rate 1 Hz is outside \[1000, 768000\]/],
  };
  // 64-bit integer PCM: wavefile would read it as float.
  cases['pcm64.wav'] = [(() => { const b = Buffer.from(wav('32', 16000, [sine(440, 16000, 0.05)])); b.writeUInt16LE(64, 34); b.writeUInt16LE(8, 32); return b; })(), /PCM with 64 bits per sample is not supported/];

  it('checkWav names what is wrong with each, in a WavError', () => {
    expect(checkWav(good())).toMatchObject({ format: 'PCM', channels: 1, sampleRate: 16000, bitsPerSample: 16, dataBytes: 1600 });
    for (const [name, [bytes, reason]] of Object.entries(cases)) {
      if (name === 'loud-float.wav' || name === 'short.wav') continue; // decode and length problems, not structure
      expect(() => checkWav(bytes), name).toThrow(reason);
      expect(() => checkWav(bytes), name).toThrow(WavError);
    }
    expect(() => toMono16k(cases['loud-float.wav']![0])).toThrow(cases['loud-float.wav']![1]);
  });

  it('the folder loader skips each with its reason, counts them, and loads the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'speech-damaged-'));
    try {
      for (const [name, [bytes]] of Object.entries(cases)) writeFileSync(join(dir, name), bytes);
      writeFileSync(join(dir, 'good.wav'), good());
      const reported: string[] = [];
      const f = await loadWavFolder(dir, { minSamples: 400, onSkip: (file) => reported.push(file) });
      expect(f.utterances.map((u) => u.source!.slice(dir.length + 1))).toEqual(['good.wav']);
      expect(f.skipped).toHaveLength(Object.keys(cases).length);
      expect(reported).toEqual(f.skipped.map((s) => s.file));
      for (const s of f.skipped) expect(s.reason, s.file).toMatch(cases[s.file.slice(dir.length + 1)]![1]);
      // Only bad files: a DatasetError that counts them.
      rmSync(join(dir, 'good.wav'));
      await expect(loadWavFolder(dir, { minSamples: 400 })).rejects.toThrow(new RegExp(`no readable WAV file in .* \\(${Object.keys(cases).length} \\.wav files\\); ${Object.keys(cases).length} skipped`));
      await expect(loadWavFolder(dir, { minSamples: 400 })).rejects.toThrow(DatasetError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('splitBySpeaker', () => {
  const corpus: SpeechCorpus = {
    sampleRate: 16000,
    labels: ['a', 'b'],
    utterances: Array.from({ length: 30 }, (_, i) => ({ samples: new Float32Array(1), label: i % 2 ? 'a' : 'b', words: [], speaker: `s${i % 10}` })),
  };

  it('holds out whole speakers, drawn from the seed', () => {
    const { train, test } = splitBySpeaker(corpus, { testFraction: 0.3, seed: 1 });
    const trainSpeakers = new Set(train.utterances.map((u) => u.speaker));
    const testSpeakers = new Set(test.utterances.map((u) => u.speaker));
    expect(testSpeakers.size).toBe(3);
    expect(trainSpeakers.size).toBe(7);
    for (const s of testSpeakers) expect(trainSpeakers.has(s)).toBe(false);
    expect(train.utterances.length + test.utterances.length).toBe(30);
    expect(test.labels).toEqual(['a', 'b']);
    const again = splitBySpeaker(corpus, { testFraction: 0.3, seed: 1 });
    expect(again.test.utterances).toEqual(test.utterances);
    const other = splitBySpeaker(corpus, { testFraction: 0.3, seed: 2 });
    expect(new Set(other.test.utterances.map((u) => u.speaker))).not.toEqual(testSpeakers);
  });

  it('needs two speakers and a fraction in (0, 1)', () => {
    expect(() => splitBySpeaker({ ...corpus, utterances: corpus.utterances.filter((u) => u.speaker === 's0') })).toThrow(/at least 2 speakers/);
    expect(() => splitBySpeaker(corpus, { testFraction: 1 })).toThrow(/testFraction/);
    expect(new Set(splitBySpeaker(corpus, { testFraction: 0.01 }).test.utterances.map((u) => u.speaker)).size).toBe(1);
  });
});
