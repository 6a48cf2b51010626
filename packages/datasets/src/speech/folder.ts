/**
 * Any folder of WAV files as a speech corpus (`--data <folder>`): each `.wav` file (any case) is
 * checked (`checkWav`: its RIFF structure, format and bit depth), decoded with `toMono16k` (PCM,
 * float, A-law, µ-law, IMA ADPCM, any rate, any channel count → 16 kHz mono, values in [-1, 1])
 * and normalized to zero mean and unit RMS. A file that fails any of this, or is too short
 * (`minSamples`), is reported and skipped; the load goes on.
 *
 * Labels come from the file name (not its folder) when a pattern is given: the first capture group
 * of its match, or the whole match if it has no group; e.g. `^(\d+)_` labels `7_jackson_32.wav` as
 * '7'. With a pattern, a file whose name does not match is skipped and reported too (a labelled
 * corpus should not hold unlabelled files); without one, every label is ''.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, dirname } from 'node:path';
import { DatasetError } from '../errors.js';
import { SPEECH_SAMPLE_RATE, type SpeechCorpus, type Utterance } from './types.js';
import { checkWav, normalizeSpeech, toMono16k } from './wav.js';

export interface WavFolderOptions {
  /** Label = first capture group of this pattern's match on the file name. */
  labelPattern?: RegExp | string;
  /**
   * Speaker = first capture group of this pattern's match on the file name (e.g. `^\d+_([a-z]+)_`
   * for `7_jackson_32.wav`). Default, and for names that do not match: the file's folder relative
   * to `dir` ('.' for files directly in it).
   */
  speakerPattern?: RegExp | string;
  /** Also read subfolders (default false). */
  recursive?: boolean;
  /** Zero mean, unit RMS (default true); false keeps the decoded values in [-1, 1]. */
  normalize?: boolean;
  /** Also trim leading and trailing silence (`normalizeSpeech`, default false). */
  trim?: boolean;
  /** With `trim`: silence is quieter than the loudest 10 ms frame by this many dB (default 40). */
  trimDb?: number;
  /** Files with fewer 16 kHz samples than this (after trimming) are skipped, e.g. a model's one frame (default 1). */
  minSamples?: number;
  /** Called for each skipped file, as it is skipped. */
  onSkip?: (file: string, reason: string) => void;
  /** Called after each file. */
  onProgress?: (done: number, total: number) => void;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface WavFolder extends SpeechCorpus {
  /** The files not loaded, with why. */
  skipped: SkippedFile[];
}

/**
 * The WAV files of `dir`, in path order. Throws if `dir` is not a folder or holds no readable WAV
 * file; never for a single bad file.
 */
export async function loadWavFolder(dir: string, opts: WavFolderOptions = {}): Promise<WavFolder> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new DatasetError(`WAV folder not found: ${dir}`);
  }
  if (!info.isDirectory()) throw new DatasetError(`not a folder: ${dir}`);
  const minSamples = opts.minSamples ?? 1;
  const labelRe = toRegExp(opts.labelPattern);
  const speakerRe = toRegExp(opts.speakerPattern);
  const files = await wavFiles(dir, opts.recursive ?? false);
  const utterances: Utterance[] = [];
  const skipped: SkippedFile[] = [];
  const skip = (file: string, reason: string) => {
    skipped.push({ file, reason });
    opts.onSkip?.(file, reason);
  };
  for (const [i, file] of files.entries()) {
    const name = file.slice(dirname(file).length + 1);
    let label = '';
    const m = labelRe ? name.match(labelRe) : null;
    if (labelRe && !m) skip(file, `file name does not match the label pattern ${labelRe}`);
    else {
      if (m) label = m[1] ?? m[0];
      try {
        const bytes = await readFile(file);
        checkWav(bytes);
        const decoded = toMono16k(bytes);
        const samples = opts.normalize ?? true ? normalizeSpeech(decoded, { trim: opts.trim ?? false, trimDb: opts.trimDb }) : decoded;
        if (samples.length < minSamples) {
          throw new Error(`too short: ${samples.length} samples at 16 kHz${opts.trim ? ' after trimming silence' : ''}, fewer than the ${minSamples} needed`);
        }
        const s = speakerRe ? name.match(speakerRe) : null;
        utterances.push({
          samples,
          label,
          words: label === '' ? [] : [label],
          speaker: s ? (s[1] ?? s[0]) : relative(dir, dirname(file)) || '.',
          source: file,
        });
      } catch (e) {
        skip(file, e instanceof Error ? e.message : String(e));
      }
    }
    opts.onProgress?.(i + 1, files.length);
  }
  if (utterances.length === 0) {
    const why = skipped.length > 0 ? `; ${skipped.length} skipped, e.g. ${skipped[0]!.file}: ${skipped[0]!.reason}` : '';
    throw new DatasetError(`no readable WAV file in ${dir} (${files.length} .wav files)${why}`);
  }
  return { utterances, sampleRate: SPEECH_SAMPLE_RATE, labels: sortedLabels(utterances), skipped };
}

function toRegExp(pattern: RegExp | string | undefined): RegExp | null {
  if (pattern === undefined) return null;
  // Without g/y flags, matching keeps no state between files.
  return typeof pattern === 'string' ? new RegExp(pattern) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

/** The `.wav` files under `dir` (paths joined to `dir`), sorted. */
async function wavFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      let isFile = e.isFile();
      // Links to files are followed (a broken one is reported when read); links to folders are not.
      if (e.isSymbolicLink()) isFile = (await stat(path).catch(() => null))?.isFile() ?? true;
      if (e.isDirectory() && recursive) await walk(path);
      else if (isFile && /\.wav$/i.test(e.name)) out.push(path);
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The distinct non-empty labels: numerically if all are numbers, else by code point. */
function sortedLabels(utterances: Utterance[]): string[] {
  const labels = [...new Set(utterances.map((u) => u.label))].filter((l) => l !== '');
  const numeric = labels.every((l) => /^-?\d+(\.\d+)?$/.test(l));
  return labels.sort((a, b) => (numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0));
}
