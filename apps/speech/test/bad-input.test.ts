/**
 * Bad input, as a user gives it (the built CLI in child processes): every option of both commands
 * with a bad value, damaged WAV files in a --data folder, damaged checkpoints and run folders, and
 * training that diverges. Each is answered in one line naming the option or the file (and the
 * tensor), exit code 2 (1 for a run that diverged), no stack trace, nothing created, and existing
 * runs left as they were. Kept fast: a WAV folder of tones instead of the espeak-ng corpus, option
 * cases a few at a time and stopping before any training, checkpoint cases on copies of one tiny run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STEP_BYTES, SPEECH_DEFAULTS, stepBytes } from '../src/config.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'simplex-speech-bad-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, SIMPLEX_DEBUG: '' } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The one line of stderr (the answer to bad input is one line, without a stack trace). */
function oneLine(r: Result): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length + 1)] = createHash('sha1').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A WAV file: `format` tag, `bits` per sample, mono at `rate`, with the sample bytes given. */
function wavBytes(format: number, bits: number, rate: number, data: Buffer): Buffer {
  const b = Buffer.alloc(44);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + data.length, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(format, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE((rate * bits) / 8, 28);
  b.writeUInt16LE(bits / 8, 32);
  b.writeUInt16LE(bits, 34);
  b.write('data', 36);
  b.writeUInt32LE(data.length, 40);
  return Buffer.concat([b, data]);
}

const pcm16 = (x: Float32Array) => {
  const d = Buffer.alloc(x.length * 2);
  x.forEach((v, i) => d.writeInt16LE(Math.round(v * 32767), 2 * i));
  return d;
};

/** 0.5 s at 8 kHz: a tone for the digit, a little noise. */
function tone(digit: number, seed: number): Float32Array {
  let s = seed;
  const noise = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Float32Array.from({ length: 4000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 200 * digit * i) / 8000) + 0.005 * noise());
}

const data = join(work, 'wavs');
/** Files that cannot be used, each with the reason the run reports when it skips it. */
const DAMAGED: Record<string, [Buffer, RegExp]> = {
  '9_bob_adpcm.wav': [(() => { const b = wavBytes(1, 16, 8000, pcm16(tone(1, 1))); b.writeUInt16LE(2, 20); return b; })(), /format tag 2 \(Microsoft ADPCM\) is not supported/],
  '9_bob_truncated.wav': [wavBytes(1, 16, 8000, pcm16(tone(1, 2))).subarray(0, 3000), /the data chunk declares 8000 bytes, but only 2956 follow \(truncated file\?\)/],
  '9_bob_long.wav': [(() => { const b = wavBytes(1, 16, 8000, pcm16(tone(1, 3))); b.writeUInt32LE(6000, 40); return b; })(), /the 2000 bytes after the data chunk are not a chunk: the data is longer than its header says \(6000 bytes\)/],
  '9_cy_12bit.wav': [(() => { const b = wavBytes(1, 16, 8000, pcm16(tone(2, 4))); b.writeUInt16LE(12, 34); return b; })(), /PCM with 12 bits per sample is not supported/],
  '9_cy_loud.wav': [wavBytes(3, 32, 8000, (() => { const d = Buffer.alloc(4000 * 4); for (let i = 0; i < 4000; i++) d.writeFloatLE(i === 100 ? 2 : 0.1, 4 * i); return d; })()), /sample 100 \(at 0\.013 s\) is 2, outside \[-1, 1\] after decoding/],
  '9_ann_short.wav': [wavBytes(1, 16, 8000, pcm16(tone(3, 5).subarray(0, 100))), /too short: 200 samples at 16 kHz, fewer than the \d+ needed/],
};
const LABELS = ['--label-pattern', '^(\\d+)_', '--speaker-pattern', '^\\d+_([a-z]+)_'];
const MODEL = ['--codebook-size', '8', '--conv-channels', '8', '--d-model', '16', '--heads', '2', '--ff-dim', '32', '--final-dim', '8', '--layers', '1', '--batch-size', '4', '--max-seconds', '0.6', '--checkpoint-every', '2', '--threads', '1'];
const base = join(work, 'base');
const aFile = join(work, 'a-file.txt');
let baseRun: Result;
let before: Record<string, string>;

beforeAll(async () => {
  mkdirSync(data);
  for (const [speaker, seed] of [['ann', 11], ['bob', 22], ['cy', 33]] as const) {
    for (const digit of [1, 2, 3]) for (const n of [0, 1]) writeFileSync(join(data, `${digit}_${speaker}_${n}.wav`), wavBytes(1, 16, 8000, pcm16(tone(digit, seed + n))));
  }
  for (const [name, [bytes]] of Object.entries(DAMAGED)) writeFileSync(join(data, name), bytes);
  writeFileSync(aFile, 'not a folder');
  baseRun = await run(['train', '--data', data, ...LABELS, '--test-fraction', '0.5', '--steps', '4', '--out', base, ...MODEL]);
  expect(baseRun.code, baseRun.stderr).toBe(0);
  before = snapshot(base);
}, 120_000);

describe('a WAV folder with damaged and unusable files', () => {
  it('reports each with its reason, skips it, and counts them at the end', () => {
    for (const [name, [, reason]] of Object.entries(DAMAGED)) {
      const line = baseRun.stdout.split('\n').find((l) => l.includes(name));
      expect(line, name).toMatch(/^skipped .*: /);
      expect(line).toMatch(reason);
    }
    expect(baseRun.stdout).toMatch(/skipped 6 of 24 WAV files \(each named above\)/);
    expect(JSON.parse(readFileSync(join(base, 'metrics.json'), 'utf8')).data).toMatch(/^18 WAV files .*\(6 skipped\)/);
  });
});

type Case = [string[], string, RegExp];
const bad = (option: string, value: string, message: RegExp, command = 'train', extra: string[] = []): Case => [[command, `--${option}`, value, ...extra], option, message];
const int = (lo: number, hi: number) => new RegExp(`expected an integer in \\[${lo}, ${hi}\\], got`);

/** One bad value of every option of both commands. */
const OPTION_CASES: Case[] = [
  bad('method', 'nope', /unknown method 'nope'/),
  bad('groups', '3', /3 groups do not divide the 32 feature channels/),
  bad('codebook-size', '1', int(2, 65536)),
  bad('conv-channels', '0', int(1, 4096)),
  bad('d-model', '1e9', int(1, 4096)),
  bad('layers', '65', int(1, 64)),
  bad('heads', '5', /5 heads do not divide --d-model 64/),
  bad('ff-dim', '-1', int(1, 16384)),
  bad('final-dim', '1e5', int(1, 4096)),
  bad('k', '0', int(1, 1000000)),
  bad('shards', '2.5', int(1, 1000000)),
  bad('steps', '0', int(1, 10000000)),
  bad('batch-size', '1e4', int(1, 4096)),
  bad('max-seconds', '0.1', /expected a duration in seconds in \[0\.2, 30\], got '0\.1'/),
  bad('lr', '10', /expected a learning rate in \(0, 10\)/),
  bad('seed', '-1', int(0, 2147483648)),
  bad('mask-prob', '1.5', /expected a probability in \(0, 1\)/),
  bad('mask-span', '0', int(1, 1000)),
  bad('distractors', '1e9', int(1, 1000)),
  bad('temperature', '1e-300', /expected a temperature in \[0\.001, 1000\], got '1e-300'/),
  bad('backend', 'tpu', /expected one of 'cpu', 'gpujs'/),
  bad('threads', '0', int(1, 256)),
  bad('checkpoint-every', '0', int(1, 1000000)),
  bad('test-fraction', '1', /expected a fraction of the speakers in \(0, 1\)/),
  bad('eval-utterances', '0', /expected a positive integer, or 'all'/),
  bad('probe-utterances', '1', /expected an integer ≥ 2, or 'all'/),
  bad('data', join(work, 'no-such-folder'), /no-such-folder' is not a folder/),
  bad('data', '', /'' is not a folder/),
  bad('label-pattern', '(', /not a regular expression/, 'train', ['--data', '.']),
  bad('speaker-pattern', '', /expected a regular expression, got ''/, 'train', ['--data', '.']),
  bad('trim-silence', 'loud', /expected a level in dB in \(0, 120\], or 'off'/, 'train', ['--data', '.']),
  bad('trim-silence', '40', /applies only with --data/),
  bad('corpus-seed', '-5', int(0, 2147483648)),
  bad('vocabulary', '36', int(2, 35)),
  bad('per-word', '0', int(1, 1000)),
  bad('sequences', '-1', int(0, 10000)),
  bad('speakers', '1', int(2, 1000)),
  bad('cache-dir', '', /expected a folder, got ''/),
  bad('cache-dir', aFile, /a-file\.txt' is a file, not a folder/),
  bad('init', 'kmeans', /expected one of 'data', 'normal'/),
  bad('init-std', '0', /expected a positive standard deviation, at most 100/, 'train', ['--init', 'normal']),
  bad('init-std', '2', /applies only with --init normal/),
  // Models too large for memory: refused up front with the limit.
  [['train', '--d-model', '4096', '--ff-dim', '16384', '--layers', '64'], 'd-model', /a training step would need about \d+ GB \(--layers 64 × --d-model 4096 × --ff-dim 16384 weights/],
  [['train', '--batch-size', '4096', '--max-seconds', '30'], 'max-seconds', /about \d+ GB \(--layers 2 × --heads 4 attention maps of \(--max-seconds 30 of frames\)² for --batch-size 4096 utterances\), more than the 8\.0 GB limit/],
  [['train', '--vocabulary', '35', '--per-word', '1000'], 'per-word', /makes 35100 utterances to synthesize, more than 20000/],
  // Against the data (after reading it, before anything is written).
  bad('shards', '3', /3 shards do not divide a batch of 4 utterances/, 'train', ['--method', 'knn-ce', '--data', data, ...LABELS, ...MODEL]),
  bad('k', '1000', /K = 1000 exceeds the \d+ rows a shard can have/, 'train', ['--method', 'knn-ce', '--data', data, ...LABELS, ...MODEL]),
  // Folders.
  bad('out', '', /expected a folder, got ''/),
  bad('out', aFile, /a-file\.txt' is a file, not a folder/),
  bad('out', '/proc/simplex-speech-test/run', /'\/proc\/simplex-speech-test\/run' cannot be created \(ENOENT\)/, 'train', ['--data', data, ...LABELS, '--steps', '1', ...MODEL]),
  bad('out', work, /holds files that are not a run's .* and no config\.json/),
  bad('out', base, /base holds a run made with other settings \(lr: 0\.001 there, 0\.002 now\)/, 'train', ['--data', data, ...LABELS, '--test-fraction', '0.5', '--steps', '4', '--lr', '0.002', ...MODEL]),
  bad('resume', join(work, 'missing'), /'.*missing' does not exist/),
  bad('resume', work, /holds no run \(no config\.json\)/),
  bad('resume', base, /a resumed run keeps its settings; only --steps and --threads may be given with it \(got --test-fraction\)/, 'train', ['--test-fraction', '0.5']),
  // compare
  bad('methods', 'ste,nope', /unknown method 'nope'/, 'compare'),
  bad('groups', '1,1', /'1' is given twice/, 'compare'),
  bad('groups', '1,65', /'65' is not an integer in \[1, 64\]/, 'compare'),
  bad('seeds', '-1', /'-1' is not an integer in \[0, 2147483648\]/, 'compare'),
  bad('distractors', '0', int(1, 1000), 'compare'),
  bad('out', base, /base' holds a single run \(config\.json\)/, 'compare'),
];

describe.concurrent('every option: a bad value exits 2 with one line naming it, and creates nothing', () => {
  it.each(OPTION_CASES.map((c, i) => [c[0].join(' ').replaceAll(work, '<tmp>'), c, i] as const))('%s', async (_, [args, option, message], i) => {
    const fresh = join(work, `fresh-${i}`);
    const writes = !args.includes('--out') && !args.includes('--resume');
    const r = await run(writes ? [...args, '--out', fresh] : args);
    expect(r.code, r.stderr).toBe(2);
    const line = oneLine(r);
    expect(line.startsWith(`simplex-speech ${args[0]}: --${option}: `), line).toBe(true);
    expect(line).toMatch(message);
    expect(existsSync(fresh)).toBe(false);
  });

  it('left the finished run the cases pointed at as it was, and the default settings fit easily', () => {
    expect(snapshot(base)).toEqual(before);
    expect(stepBytes(SPEECH_DEFAULTS).total).toBeLessThan(MAX_STEP_BYTES / 20);
  });
});

/** A copy of the finished run, for one case to damage. */
function copyOfBase(name: string): string {
  const dir = join(work, name);
  cpSync(base, dir, { recursive: true });
  return dir;
}

function checkpointOf(dir: string) {
  const path = join(dir, 'checkpoint.safetensors');
  const bytes = readFileSync(path);
  const n = bytes.readUInt32LE(0);
  const headerText = bytes.subarray(8, 8 + n).toString('utf8');
  const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
  return {
    setValue(tensor: string, i: number | 'all', v: number) {
      const b = Buffer.from(bytes);
      const [begin, end] = header[tensor]!.data_offsets;
      for (const j of i === 'all' ? Array.from({ length: (end - begin) / 4 }, (_, k) => k) : [i]) b.writeFloatLE(v, 8 + n + begin + 4 * j);
      writeFileSync(path, b);
    },
    editHeader(edit: (h: string) => string) {
      const text = edit(headerText);
      expect(text).not.toBe(headerText);
      writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), Buffer.from(text.padEnd(n, ' ')), bytes.subarray(8 + n)]));
    },
    truncate(by: number) {
      writeFileSync(path, bytes.subarray(0, bytes.length - by));
    },
  };
}

const editConfig = (d: string, change: Record<string, unknown>) => writeFileSync(join(d, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')), ...change }));

const CHECKPOINT_CASES: Array<[string, (dir: string) => void, RegExp]> = [
  ['truncated', (d) => checkpointOf(d).truncate(12), /checkpoint\.safetensors: tensor "[^"]+": data_offsets \[\d+, \d+\] run past the \d+ bytes of data \(truncated\?\)/],
  ['a corrupt header', (d) => checkpointOf(d).editHeader((h) => h.replace('"dtype":"F32"', '"dtype":"X32"')), /checkpoint\.safetensors: tensor "[^"]+": unknown dtype "X32"/],
  ['a wrong shape', (d) => checkpointOf(d).editHeader((h) => h.replace('"featureProj.weight":{"dtype":"F32","shape":[16,8]', '"featureProj.weight":{"dtype":"F32","shape":[8,16]')), /checkpoint\.safetensors: tensor "featureProj\.weight": .*shape \[8, 16\]/],
  ['NaN in a weight', (d) => checkpointOf(d).setValue('featureProj.weight', 3, NaN), /checkpoint\.safetensors: tensor "featureProj\.weight": holds NaN at element 3 of 128 \(index \[0, 3\]\)/],
  ['a negative second moment', (d) => checkpointOf(d).setValue('optimizer.state.1.expAvgSq', 0, -1), /tensor "optimizer\.state\.1\.expAvgSq": .*holds -1 at element 0; a second moment .* cannot be negative/],
  ['no state of the data sampler', (d) => checkpointOf(d).editHeader((h) => h.replace('\\"batches\\"', '\\"batchez\\"')), /checkpoint\.safetensors: has no state for generator "batches"/],
  ['another config\'s checkpoint', (d) => editConfig(d, { maskProb: 0.2 }), /checkpoint\.safetensors: was saved by a run with other settings than .*config\.json \(maskProb: 0\.1 in the checkpoint, 0\.2 in config\.json\)/],
  ['a step the history has not reached', (d) => writeFileSync(join(d, 'history.csv'), readFileSync(join(d, 'history.csv'), 'utf8').split('\n').slice(0, 3).join('\n') + '\n'), /history\.csv: ends at step 2, but the checkpoint is at step 4/],
  ['config.json that is not JSON', (d) => writeFileSync(join(d, 'config.json'), '{'), /--resume: .*config\.json is not valid JSON/],
  ['config.json with an impossible setting', (d) => editConfig(d, { distractors: 1e9 }), /config\.json: is not a run's settings \(--distractors: expected an integer in \[1, 1000\]/],
];

describe.concurrent('damaged run folders: --resume refuses each in one line naming the file (and tensor), and changes no file', () => {
  it.each(CHECKPOINT_CASES.map((c, i) => [c[0], c, i] as const))('%s', async (_, [, damage, message], i) => {
    const dir = copyOfBase(`damaged-${i}`);
    damage(dir);
    const damaged = snapshot(dir);
    const r = await run(['train', '--resume', dir, '--steps', '6']);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r)).toMatch(message);
    expect(snapshot(dir)).toEqual(damaged);
  });
});

describe('resuming and diverging', () => {
  it('removes the temporary files of an interrupted write; a run without a checkpoint starts from step 0, and says so', async () => {
    const dir = copyOfBase('stale');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, `config.json.tmp-${dead}-0b0b0b`), '{');
    rmSync(join(dir, 'checkpoint.safetensors'));
    const r = await run(['train', '--resume', dir, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stale has no checkpoint yet \(the run stopped before its first, due at step 2\): starting from step 0/);
    expect(r.stdout).toContain(`removed 1 temporary file(s) of an interrupted write: config.json.tmp-${dead}-0b0b0b`);
    const rows = (d: string) => readFileSync(join(d, 'history.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 6).join(','));
    expect(rows(dir)).toEqual(rows(base)); // the same run again
  });

  it('training that produces NaN or Inf stops with exit 1 naming the step and the quantity, keeping the last good checkpoint', async () => {
    const dir = copyOfBase('diverging');
    checkpointOf(dir).setValue('convs.0.weight', 'all', 3e38); // the next step's features overflow float32
    const checkpoint = readFileSync(join(dir, 'checkpoint.safetensors'));
    const r = await run(['train', '--resume', dir, '--steps', '8']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^simplex-speech train: training diverged at step 5: the quantizer loss is NaN; the last good checkpoint \(step 4\) is kept in .*diverging\/checkpoint\.safetensors; nothing after it was saved; try a smaller --lr$/);
    expect(readFileSync(join(dir, 'checkpoint.safetensors')).equals(checkpoint)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
