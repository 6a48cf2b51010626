/**
 * WAV decoding and the normalization every utterance gets, shared by the synthetic corpus and WAV
 * folders.
 *
 * `toMono16k` accepts what `wavefile` reads: PCM of any bit depth (8-bit unsigned, 16/24/32-bit
 * signed, and other widths), 32/64-bit float, A-law, µ-law and IMA ADPCM; any sample rate; any
 * channel count. Channels are averaged; the rate is changed by `resample` (windowed sinc,
 * band-limited below 8 kHz).
 */
import wavefile from 'wavefile';
import { resample } from './resample.js';
import { SPEECH_SAMPLE_RATE } from './types.js';

interface WavFormat {
  numChannels: number;
  sampleRate: number;
}

/** Decodes a WAV file into mono samples in [-1, 1] at 16 kHz. Throws if the bytes are not a readable WAV. */
export function toMono16k(wavBytes: Uint8Array): Float32Array {
  const { samples, sampleRate } = decodeMono(wavBytes);
  return resample(samples, sampleRate, SPEECH_SAMPLE_RATE);
}

/** The channel average of a WAV file, in [-1, 1], at its own sample rate. */
function decodeMono(wavBytes: Uint8Array): { samples: Float64Array; sampleRate: number } {
  let w: InstanceType<typeof wavefile.WaveFile>;
  try {
    w = new wavefile.WaveFile(wavBytes);
  } catch (e) {
    throw new Error(`not a readable WAV file (${e instanceof Error ? e.message : String(e)})`);
  }
  if (w.bitDepth === '8a') w.fromALaw();
  else if (w.bitDepth === '8m') w.fromMuLaw();
  else if (w.bitDepth === '4') w.fromIMAADPCM();
  const { numChannels, sampleRate } = w.fmt as WavFormat;
  if (!(numChannels >= 1)) throw new Error(`bad channel count ${numChannels}`);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new Error(`bad sample rate ${sampleRate}`);
  const depth = w.bitDepth;
  const float = depth === '32f' || depth === '64';
  const bits = Number.parseInt(depth, 10);
  if (!float && !(bits >= 2 && bits <= 53)) throw new Error(`unsupported sample format '${depth}'`);
  // Integer PCM: 8 bits and fewer are unsigned (offset 2^(bits-1)), wider ones signed.
  const half = float ? 1 : 2 ** (bits - 1);
  const offset = float || bits > 8 ? 0 : half;
  const interleaved = w.getSamples(true, Float64Array);
  const frames = Math.floor(interleaved.length / numChannels);
  if (frames === 0) throw new Error('no samples');
  const samples = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < numChannels; c++) sum += interleaved[i * numChannels + c]!;
    const v = (sum / numChannels - offset) / half;
    if (!Number.isFinite(v)) throw new Error(`non-finite sample at frame ${i}`);
    samples[i] = v;
  }
  return { samples, sampleRate };
}

export interface NormalizeOptions {
  /** Cut leading and trailing silence (default true). */
  trim?: boolean;
  /** Silence is any 10 ms frame this many dB below the loudest frame (default 40). */
  trimDb?: number;
  /** Audio kept on each side of the speech when trimming, in ms (default 50). */
  marginMs?: number;
}

/**
 * The normalization of every utterance (16 kHz samples): optionally trim silence (each frame's level
 * is its standard deviation, so a DC offset is not sound), then remove the DC offset (zero mean) and
 * scale to unit RMS (so unit variance; speech peaks are typically 4–9). All-zero input stays zero.
 * Returns a new array.
 */
export function normalizeSpeech(samples: Float32Array, opts: NormalizeOptions = {}): Float32Array {
  const trim = opts.trim ?? true;
  let from = 0, to = samples.length;
  if (trim && samples.length > 0) [from, to] = speechBounds(samples, opts.trimDb ?? 40, opts.marginMs ?? 50);
  const out = samples.slice(from, to);
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length || 1;
  let energy = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]! - mean;
    out[i] = v;
    energy += v * v;
  }
  const rms = Math.sqrt(energy / (out.length || 1));
  if (rms > 0) for (let i = 0; i < out.length; i++) out[i]! /= rms;
  return out;
}

/** [from, to) of the audio between the first and last non-silent 10 ms frames, plus the margin. */
function speechBounds(samples: Float32Array, trimDb: number, marginMs: number): [number, number] {
  const frame = SPEECH_SAMPLE_RATE / 100;
  const count = Math.ceil(samples.length / frame);
  const rms = new Float64Array(count);
  let loudest = 0;
  for (let f = 0; f < count; f++) {
    const end = Math.min(samples.length, (f + 1) * frame), n = end - f * frame;
    let sum = 0, sq = 0;
    for (let i = f * frame; i < end; i++) {
      sum += samples[i]!;
      sq += samples[i]! ** 2;
    }
    rms[f] = Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2));
    loudest = Math.max(loudest, rms[f]!);
  }
  if (loudest === 0) return [0, samples.length];
  const threshold = loudest * 10 ** (-trimDb / 20);
  let first = 0, last = count - 1;
  while (rms[first]! < threshold) first++;
  while (rms[last]! < threshold) last--;
  const margin = Math.round((marginMs / 1000) * SPEECH_SAMPLE_RATE);
  return [Math.max(0, first * frame - margin), Math.min(samples.length, (last + 1) * frame + margin)];
}
