/**
 * WAV decoding and the normalization every utterance gets, shared by the synthetic corpus and WAV
 * folders.
 *
 * `toMono16k` accepts what `wavefile` reads: PCM of any bit depth (8-bit unsigned, 16/24/32-bit
 * signed, and other widths), 32/64-bit float, A-law, µ-law and IMA ADPCM; any sample rate; any
 * channel count. Channels are averaged; the rate is changed by `resample` (windowed sinc,
 * band-limited below 8 kHz). Decoded samples outside [-1, 1] are refused.
 *
 * `checkWav` reads the RIFF structure itself first, for files from elsewhere (WAV folders):
 * `wavefile` reads whatever a header says, so a truncated file, a codec it does not know (it would
 * decode MS ADPCM as IMA ADPCM) or a bit depth nobody writes would come out as noise.
 */
import wavefile from 'wavefile';
import { resample } from './resample.js';
import { SPEECH_SAMPLE_RATE } from './types.js';

/** Why a WAV file cannot be used; the folder loader reports the message and skips the file. */
export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavError';
  }
}

/** Format tags `checkWav` accepts, with the bit depths each may have. */
const SUPPORTED: Record<number, { name: string; bits: readonly number[] }> = {
  1: { name: 'PCM', bits: [8, 16, 24, 32] },
  3: { name: 'IEEE float', bits: [32, 64] },
  6: { name: 'A-law', bits: [8] },
  7: { name: 'µ-law', bits: [8] },
  17: { name: 'IMA ADPCM', bits: [4] },
};
/** Names of other common format tags, for the message. */
const OTHER_FORMATS: Record<number, string> = { 0: 'unknown', 2: 'Microsoft ADPCM', 0x22: 'DSP Group TrueSpeech', 0x31: 'GSM 6.10', 0x50: 'MPEG', 0x55: 'MPEG Layer 3', 0x160: 'WMA', 0x161: 'WMA', 0x2000: 'AC-3' };
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Sample rates outside this range are not audio this project can use (and a 1 Hz header would resample into a huge array). */
export const WAV_RATE_RANGE: readonly [number, number] = [1000, 768_000];

/** What checkWav found: the format, and where the samples are. */
export interface WavInfo {
  format: string;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes of sample data (the data chunk's size). */
  dataBytes: number;
}

/**
 * Checks a WAV file's RIFF structure and format before it is decoded, and throws a WavError saying
 * what is wrong: not RIFF/WAVE; a chunk (the data chunk included) that declares more bytes than the
 * file holds; bytes after the last chunk that are not one (data longer than its header says); no
 * fmt or data chunk; a format tag other than PCM (1), IEEE float (3), A-law (6), µ-law (7) or IMA
 * ADPCM (17), also inside WAVE_FORMAT_EXTENSIBLE; a bit depth outside the format's (PCM 8, 16, 24,
 * 32; float 32, 64; A-law and µ-law 8; IMA ADPCM 4); a block size or a data size that does not fit
 * the frames; a sample rate outside WAV_RATE_RANGE; no samples.
 */
export function checkWav(bytes: Uint8Array): WavInfo {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = (at: number) => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (n < 12) throw new WavError(`is ${n} bytes, too short for a RIFF/WAVE header`);
  if (id(0) !== 'RIFF' || id(8) !== 'WAVE') throw new WavError(`not a RIFF/WAVE file (starts with '${id(0)}…${id(8)}'${id(0) === 'RF64' ? ': RF64 is not supported' : ''})`);
  let fmt: { tag: number; channels: number; rate: number; blockAlign: number; bits: number } | null = null;
  let data: { bytes: number } | null = null;
  let at = 12;
  while (at + 8 <= n) {
    if (n - at === 128 && id(at).startsWith('TAG')) break; // an ID3v1 tag at the end
    const name = id(at), size = view.getUint32(at + 4, true);
    const fits = at + 8 + size <= n;
    // After the data chunk, what is not a plausible chunk is more data than the header declared.
    if (data && (!/^[A-Za-z0-9 _-]{4}$/.test(name) || !fits)) {
      throw new WavError(`the ${n - at} bytes after the data chunk are not a chunk: the data is longer than its header says (${data.bytes} bytes)`);
    }
    if (!/^[\x20-\x7e]{4}$/.test(name)) throw new WavError(`bytes ${at}–${at + 3} are not a chunk name (corrupt file?)`);
    if (!fits) throw new WavError(`the ${name === 'data' ? 'data' : `'${name}'`} chunk declares ${size} bytes, but only ${n - at - 8} follow (truncated file?)`);
    const body = at + 8;
    if (name === 'fmt ') {
      if (size < 16) throw new WavError(`the fmt chunk is ${size} bytes, fewer than 16`);
      let tag = view.getUint16(body, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE) {
        // The sub-format GUID starts with the tag; wavefile decodes only PCM inside it correctly.
        const sub = size >= 40 ? view.getUint16(body + 24, true) : -1;
        if (sub !== 1) throw new WavError(`WAVE_FORMAT_EXTENSIBLE with sub-format ${sub < 0 ? 'missing' : `${sub} (${SUPPORTED[sub]?.name ?? OTHER_FORMATS[sub] ?? 'unknown'})`} is not supported; only PCM inside it`);
        tag = sub;
      }
      fmt = { tag, channels: view.getUint16(body + 2, true), rate: view.getUint32(body + 4, true), blockAlign: view.getUint16(body + 12, true), bits: view.getUint16(body + 14, true) };
    } else if (name === 'data') {
      data = { bytes: size };
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  const rest = n - at;
  // What may follow the last chunk: a pad byte, zeros, or an ID3v1 tag ('TAG' and 125 bytes).
  if (rest > 0 && !bytes.subarray(at).every((b) => b === 0) && !(rest === 128 && id(at).startsWith('TAG'))) {
    throw new WavError(data ? `the ${rest} bytes after the data chunk are not a chunk: the data is longer than its header says (${data.bytes} bytes)` : `${rest} stray bytes after the last chunk (corrupt file?)`);
  }
  if (!fmt) throw new WavError('has no fmt chunk');
  if (!data) throw new WavError('has no data chunk');
  const format = SUPPORTED[fmt.tag];
  if (!format) {
    const known = Object.entries(SUPPORTED).map(([t, f]) => `${f.name} (${t})`).join(', ');
    throw new WavError(`format tag ${fmt.tag} (${OTHER_FORMATS[fmt.tag] ?? 'unknown'}) is not supported; supported: ${known}`);
  }
  if (!format.bits.includes(fmt.bits)) throw new WavError(`${format.name} with ${fmt.bits} bits per sample is not supported (${format.bits.join(', ')} bits are)`);
  if (fmt.channels < 1) throw new WavError(`${fmt.channels} channels`);
  if (fmt.rate < WAV_RATE_RANGE[0] || fmt.rate > WAV_RATE_RANGE[1]) throw new WavError(`sample rate ${fmt.rate} Hz is outside [${WAV_RATE_RANGE[0]}, ${WAV_RATE_RANGE[1]}]`);
  if (fmt.tag !== 17) {
    const frame = (fmt.channels * fmt.bits) / 8;
    if (fmt.blockAlign !== frame) throw new WavError(`block size ${fmt.blockAlign} does not match ${fmt.channels} channel(s) of ${fmt.bits} bits (${frame} bytes)`);
    if (data.bytes % frame !== 0) throw new WavError(`the data chunk's ${data.bytes} bytes are not a whole number of ${frame}-byte frames (truncated?)`);
  }
  if (data.bytes === 0) throw new WavError('holds no samples (empty data chunk)');
  return { format: format.name, channels: fmt.channels, sampleRate: fmt.rate, bitsPerSample: fmt.bits, dataBytes: data.bytes };
}

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
    throw new WavError(`not a readable WAV file (${e instanceof Error ? e.message : String(e)})`);
  }
  if (w.bitDepth === '8a') w.fromALaw();
  else if (w.bitDepth === '8m') w.fromMuLaw();
  else if (w.bitDepth === '4') w.fromIMAADPCM();
  const { numChannels, sampleRate } = w.fmt as WavFormat;
  if (!(numChannels >= 1)) throw new WavError(`bad channel count ${numChannels}`);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new WavError(`bad sample rate ${sampleRate}`);
  const depth = w.bitDepth;
  const float = depth === '32f' || depth === '64';
  const bits = Number.parseInt(depth, 10);
  if (!float && !(bits >= 2 && bits <= 53)) throw new WavError(`unsupported sample format '${depth}'`);
  // Integer PCM: 8 bits and fewer are unsigned (offset 2^(bits-1)), wider ones signed.
  const half = float ? 1 : 2 ** (bits - 1);
  const offset = float || bits > 8 ? 0 : half;
  const interleaved = w.getSamples(true, Float64Array);
  const frames = Math.floor(interleaved.length / numChannels);
  if (frames === 0) throw new WavError('no samples');
  const samples = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < numChannels; c++) sum += interleaved[i * numChannels + c]!;
    const v = (sum / numChannels - offset) / half;
    if (!Number.isFinite(v)) throw new WavError(`non-finite sample at frame ${i}`);
    if (v < -1 || v > 1) throw new WavError(`sample ${i} (at ${(i / sampleRate).toFixed(3)} s) is ${v}, outside [-1, 1] after decoding`);
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
