/**
 * eSpeak NG, from the `espeak-ng` registry package (the CLI compiled to WebAssembly, GPL-3.0-or-later;
 * a runtime dependency, loaded only when a corpus is synthesized).
 *
 * The CLI cannot run twice in one instance (its option parser keeps state), so each utterance gets a
 * new instance; the 18 MB WebAssembly module is compiled once per process and only instantiated per
 * utterance. Its output is a 16-bit mono 22,050 Hz WAV, the same bytes for the same arguments.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** English voices (accents) of this build that synthesize distinct speech. */
export const ESPEAK_VOICES: readonly string[] = [
  'en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-rp', 'en-gb-x-gbclan', 'en-gb-x-gbcwmd', 'en-029',
];

/**
 * Voice variants (`-v voice+variant`) of this build that change the speech without errors. Left out:
 * the klatt-based ones (this build has no klatt synthesizer), the robotic ones, and `fast` (no change).
 */
export const ESPEAK_VARIANTS: readonly string[] = [
  'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'f1', 'f2', 'f3', 'f4', 'f5',
  'croak', 'whisper', 'whisperf', 'grandpa', 'grandma',
  'Alex', 'Alicia', 'Andrea', 'Andy', 'Annie', 'aunty', 'belinda', 'boris', 'Denis', 'ed', 'Gene',
  'iven', 'Jacky', 'john', 'Lee', 'linda', 'max', 'Michael', 'Mike', 'norbert', 'quincy', 'rob',
  'robert', 'shelby', 'steph', 'steph2', 'Storm', 'travis', 'victor', 'zac', 'anika',
];

type ESpeakNg = typeof import('espeak-ng').default;

let loaded: Promise<{ run: ESpeakNg; module: WebAssembly.Module }> | null = null;

function load() {
  loaded ??= (async () => {
    const run = (await import('espeak-ng')).default;
    const entry = createRequire(import.meta.url).resolve('espeak-ng');
    const module = await WebAssembly.compile(readFileSync(join(dirname(entry), 'espeak-ng.wasm')));
    return { run, module };
  })();
  return loaded;
}

/** Runs the espeak-ng CLI once; returns what it printed to stdout and stderr and the file `file` it wrote, if any. */
async function runCli(args: string[], file?: string): Promise<{ out: string[]; err: string[]; bytes: Uint8Array | null }> {
  const { run, module } = await load();
  const out: string[] = [], err: string[] = [];
  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  const inst = await Promise.race([failed, run({
    arguments: args,
    print: (s) => out.push(s),
    // The Emscripten runtime notes that it stays alive after exit(): not an error.
    printErr: (s) => { if (!s.includes('keepRuntimeAlive')) err.push(s); },
    instantiateWasm: (imports, done) => {
      WebAssembly.instantiate(module, imports).then((instance) => done(instance, module), fail);
      return {};
    },
  })]);
  let bytes: Uint8Array | null = null;
  if (file) {
    try {
      bytes = inst.FS.readFile(file);
    } catch {
      bytes = null;
    }
  }
  return { out, err, bytes };
}

/**
 * Speaks `text` with `-v voice -p pitch -s speed`; returns the WAV bytes. Throws with espeak-ng's
 * message on any complaint (an unknown voice, a variant this build cannot use).
 */
export async function espeakWav(text: string, voice: string, pitch: number, speed: number): Promise<Uint8Array> {
  const file = '/utterance.wav';
  const { err, bytes } = await runCli(['-w', file, '-v', voice, '-p', String(pitch), '-s', String(speed), text], file);
  if (err.length > 0 || !bytes) throw new Error(`espeak-ng -v ${voice} failed: ${err.join('; ') || 'no audio written'}`);
  return bytes;
}

/** The variant names (`+name`) this build knows, from `--voices=variant`. */
export async function espeakVariants(): Promise<Set<string>> {
  const { out } = await runCli(['--voices=variant']);
  const header = out.findIndex((l) => l.includes('VoiceName') && l.includes('File'));
  if (header < 0) throw new Error('espeak-ng --voices=variant printed no table');
  const from = out[header]!.indexOf('File'), to = out[header]!.indexOf('Other Languages');
  const names = new Set<string>();
  for (const line of out.slice(header + 1)) {
    const file = line.slice(from, to < 0 ? undefined : to).trim();
    if (file.startsWith('!v/')) names.add(file.slice(3));
  }
  return names;
}
