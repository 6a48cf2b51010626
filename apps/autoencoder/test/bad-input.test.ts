/**
 * Bad input, as a user gives it (the built CLI in child processes): every option of every command
 * with a bad value, damaged checkpoints and run folders, and training that diverges. Each is
 * answered in one line that names the option or the file (and the tensor), with exit code 2
 * (1 for a run that diverged), no stack trace, nothing created, and existing runs left as they
 * were. Kept fast: option cases run a few at a time and stop before any training; the checkpoint
 * cases copy one tiny trained run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STEP_BYTES, resolveConfig, stepBytes, type TrainConfig } from '../src/config.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'simplex-ae-bad-'));
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
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

/** Every file under `dir` with a hash of its bytes: to see that a refused command changed nothing. */
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

const TINY = ['--codebook-size', '16', '--dim', '4', '--hidden', '8', '--batch-size', '4', '--eval-images', '20', '--checkpoint-every', '3'];
/** A finished tiny run (6 steps, checkpoints at 3 and 6), and a file, that the cases point at. */
const base = join(work, 'base');
const aFile = join(work, 'a-file.txt');
let before: Record<string, string>;

beforeAll(async () => {
  writeFileSync(aFile, 'not a folder');
  const r = await run(['train', '--method', 'knn-ce', '--steps', '6', '--out', base, ...TINY]);
  expect(r.code, r.stderr).toBe(0);
  before = snapshot(base);
}, 120_000);

// [command and arguments, the option the line must name, what it must say]
type Case = [string[], string, RegExp];
const bad = (option: string, value: string, message: RegExp, command = 'train', extra: string[] = []): Case => [[command, `--${option}`, value, ...extra], option, message];
const int = (lo: number, hi: number) => new RegExp(`expected an integer in \\[${lo}, ${hi}\\], got`);

/** One bad value of every option of every command, through the CLI (more values of each below, in process). */
const OPTION_CASES: Case[] = [
  bad('method', 'nope', /unknown method 'nope'; choose one of ste, /),
  bad('init', 'kmeans', /expected one of 'data', 'normal', 'none', got 'kmeans'/),
  bad('init-std', '0', /expected a standard deviation in \(0, 100\], got '0'/),
  bad('restart-threshold', '-1', /expected a positive number of rows per batch, got '-1'/),
  bad('output-bias', 'zero', /expected one of 'data', 'default', got 'zero'/),
  bad('codebook-size', '1e9', int(2, 65536)),
  bad('dim', '0', int(1, 4096)),
  bad('groups', '3', /3 groups do not divide --dim 32/),
  bad('levels', '0', int(1, 64)),
  bad('hidden', '-8', int(1, 1024)),
  bad('k', '99999', /K = 99999 exceeds the 1568 latent vectors per shard/),
  bad('shards', '5', /5 shards do not divide the 1568 latent vectors of a batch/),
  bad('vertex-subset', '300', /a count of 300 vertices exceeds the 256 codes/),
  bad('steps', '1e12', int(1, 10000000)),
  bad('batch-size', '0', int(1, 9000)),
  bad('lr', 'NaN', /expected a learning rate in \(0, 10\), got 'NaN'/),
  bad('seed', '-1', int(0, 2147483648)),
  bad('backend', 'tpu', /expected one of 'cpu', 'gpujs', got 'tpu'/),
  bad('checkpoint-every', '1e9', int(1, 1000000)),
  bad('eval-images', '1001', int(1, 1000)),
  bad('threads', 'many', int(1, 256)),
  // Models too large for memory: refused up front with the limit, not by an out-of-memory abort.
  [['train', '--hidden', '1024', '--batch-size', '9000'], 'batch-size', /a training step would need about \d+ GB \(--batch-size 9000 images × --hidden 1024 channels of activations\), more than the 8\.0 GB limit/],
  [['train', '--codebook-size', '65536', '--dim', '4096', '--batch-size', '1', '--eval-images', '1'], 'codebook-size', /about [\d.]+ GB \(--codebook-size 65536 × --dim 4096 codebook entries/],
  // Folders.
  bad('out', '', /expected a folder, got ''/),
  bad('out', aFile, /a-file\.txt' is a file, not a folder/),
  bad('out', join(aFile, 'run'), /a-file\.txt' is a file, so '.*run' cannot be made/),
  bad('out', '/proc/simplex-ae-test/run', /'\/proc\/simplex-ae-test\/run' cannot be created \(ENOENT\)/, 'train', ['--steps', '1', '--batch-size', '2', '--eval-images', '2']),
  bad('out', work, /holds files that are not a run's .* and no config\.json; choose a new or empty folder/),
  bad('out', base, /base holds a run made with other settings \(lr: 0\.002 there, 0\.003 now\); choose another --out, or delete that folder/, 'train', ['--method', 'knn-ce', '--steps', '6', '--lr', '0.003', ...TINY]),
  bad('resume', join(work, 'missing'), /'.*missing' does not exist/),
  bad('resume', aFile, /a-file\.txt' is a file, not a run folder/),
  bad('resume', work, /holds no run \(no config\.json\)/),
  bad('resume', base, /a resumed run keeps its settings; only --steps and --threads may be given with it \(got --lr\)/, 'train', ['--lr', '0.1']),
  // compare
  bad('methods', 'ste,ste', /'ste' is given twice/, 'compare'),
  bad('methods', 'ste,rvq', /rvq gives each vector --levels codes of M, so it is not compared at equal M here; train it with 'simplex-ae train --method rvq --levels <Q>'/, 'compare'),
  bad('seeds', '1e30', /'1e30' is not an integer in \[0, 2147483648\]/, 'compare'),
  bad('init', 'data,kmeans', /expected 'data' or 'normal', got 'kmeans'/, 'compare'),
  bad('shards', '5', /5 shards do not divide the 1568 latent vectors/, 'compare', ['--methods', 'ste,knn-ce']),
  bad('out', base, /base' holds a single run \(config\.json\)/, 'compare'),
  // sweep
  bad('dims', '1e9', /'1e9' is not an integer in \[1, 4096\]/, 'sweep'),
  bad('vertex-subsets', '0.5,2', /'2' is not a fraction in \(0, 1\); use 'none' to skip claim 8/, 'sweep'),
  bad('subset-dim', '0', int(1, 4096), 'sweep'),
  bad('subset-init', 'kmeans', /expected 'data' or 'normal', got 'kmeans'/, 'sweep'),
  bad('seeds', '0,x', /'x' is not an integer/, 'sweep'),
  bad('methods', 'nope', /unknown method 'nope'/, 'sweep'),
  bad('out', aFile, /is a file, not a folder/, 'sweep'),
  // toy
  bad('steps', '1e9', int(1, 100000), 'toy'),
  bad('seed', '0.5', int(0, 2147483648), 'toy'),
  bad('out', base, /holds a single run/, 'toy'),
];

describe('more bad values of each setting (in process: resolveConfig, as the CLI calls it)', () => {
  // [config key, value, what the message says]
  const table: Array<[keyof TrainConfig, unknown, RegExp]> = [
    ['method', '', /^--method: unknown method ''/],
    ['method', 'gumbel+restart', /^--method: unknown method 'gumbel\+restart'/],
    ['init', 'none', /^--init: knn-ce learns a codebook/],
    ['initStd', '1e9', /^--init-std: expected a standard deviation in \(0, 100\]/],
    ['initStd', 'abc', /^--init-std: expected a standard deviation/],
    ['restartThreshold', '1e300', /^--restart-threshold: expected a positive number/],
    ['codebookSize', '1', /^--codebook-size: expected an integer in \[2, 65536\]/],
    ['codebookSize', '2.5', /^--codebook-size: expected an integer/],
    ['dim', '5000', /^--dim: expected an integer in \[1, 4096\]/],
    ['groups', '0', /^--groups: expected an integer in \[1, 64\]/],
    ['groups', '65', /^--groups: expected an integer in \[1, 64\]/],
    ['levels', '65', /^--levels: expected an integer in \[1, 64\]/],
    ['levels', '1.5', /^--levels: expected an integer/],
    ['levels', '4', /^--levels: applies to --method rvq only \(got --method knn-ce\)/],
    ['hidden', '1e6', /^--hidden: expected an integer in \[1, 1024\]/],
    ['k', '0', /^--k: expected an integer in \[1, 1000000\]/],
    ['k', '1e7', /^--k: expected an integer in \[1, 1000000\]/],
    ['shards', '0', /^--shards: expected an integer/],
    ['vertexSubset', '0', /^--vertex-subset: expected a fraction in \(0, 1\) or a count of codes ≥ 1, got '0'/],
    ['vertexSubset', '1.5', /^--vertex-subset: expected a fraction/],
    ['vertexSubset', '-0.5', /^--vertex-subset: expected a fraction/],
    ['steps', '0', /^--steps: expected an integer in \[1, 10000000\], got '0'/],
    ['steps', '-3', /^--steps: expected an integer/],
    ['steps', 'ten', /^--steps: expected an integer/],
    ['steps', '1.5', /^--steps: expected an integer/],
    ['batchSize', '9001', /^--batch-size: expected an integer in \[1, 9000\]/],
    ['lr', '0', /^--lr: expected a learning rate in \(0, 10\)/],
    ['lr', '10', /^--lr: expected a learning rate/],
    ['lr', 'Infinity', /^--lr: expected a learning rate/],
    ['lr', '-1e-3', /^--lr: expected a learning rate/],
    ['lr', 'fast', /^--lr: expected a learning rate/],
    ['seed', '1e20', /^--seed: expected an integer in \[0, 2147483648\]/],
    ['checkpointEvery', '0', /^--checkpoint-every: expected an integer in \[1, 1000000\]/],
    ['evalImages', '0', /^--eval-images: expected an integer in \[1, 1000\]/],
    ['threads', '0', /^--threads: expected an integer in \[1, 256\]/],
    ['threads', '257', /^--threads: expected an integer in \[1, 256\]/],
  ];
  it.each(table)('%s = %j', (key, value, message) => {
    expect(() => resolveConfig({ [key]: value })).toThrow(message);
  });

  it('refuses every model whose step would not fit in memory, naming what makes it large, and nothing the experiments run', () => {
    expect(() => resolveConfig({ codebookSize: 65536, batchSize: 9000 })).toThrow(/^--batch-size: a training step would need about \d+ GB \(--batch-size 9000 × 49 rows × --groups 1 × --codebook-size 65536 distances\)/);
    expect(() => resolveConfig({ hidden: 1024, batchSize: 2000 })).toThrow(/^--batch-size: .*--hidden 1024 channels of activations/);
    // The largest settings of the experiments (the sweep: M = 512, C = 256) are far below the limit.
    expect(stepBytes(resolveConfig({ codebookSize: 512, dim: 256 })).total).toBeLessThan(MAX_STEP_BYTES / 50);
  });
});

describe.concurrent('every option: a bad value exits 2 with one line naming it, and creates nothing', () => {
  it.each(OPTION_CASES.map((c, i) => [c[0].join(' ').replace(work, '<tmp>'), c, i] as const))('%s', async (_, [args, option, message], i) => {
    const fresh = join(work, `fresh-${i}`);
    const writes = ['train', 'compare', 'sweep', 'toy'].includes(args[0]!) && !args.includes('--out') && !args.includes('--resume');
    const r = await run(writes ? [...args, '--out', fresh] : args);
    expect(r.code, r.stderr).toBe(2);
    const line = oneLine(r);
    expect(line.startsWith(`simplex-ae ${args[0]}: --${option}: `), line).toBe(true);
    expect(line).toMatch(message);
    expect(existsSync(fresh)).toBe(false);
  });
});

describe('malformed command lines', () => {
  it.concurrent.each([
    [['frobnicate'], /^simplex-ae: unknown command 'frobnicate'; the commands are train, compare, sweep, toy/],
    [['train', '--bogus', '1'], /^simplex-ae train: Unknown option '--bogus'/],
    [['toy', '--methods', 'ste'], /^simplex-ae toy: option --methods does not apply to 'toy'/],
    [['train', '--steps'], /^simplex-ae train: Option '--steps <value>' argument missing/],
    [['train', 'extra'], /^simplex-ae train: Unexpected argument 'extra'/],
  ])('%j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(message);
  });

  it('left the finished run the cases pointed at as it was', () => {
    expect(snapshot(base)).toEqual(before);
  });
});

/** A copy of the finished run, for one case to damage. */
function copyOfBase(name: string): string {
  const dir = join(work, name);
  cpSync(base, dir, { recursive: true });
  return dir;
}

/** The checkpoint's header, and functions that write an edited checkpoint. */
function checkpointOf(dir: string) {
  const path = join(dir, 'checkpoint.safetensors');
  const bytes = readFileSync(path);
  const n = bytes.readUInt32LE(0);
  const headerText = bytes.subarray(8, 8 + n).toString('utf8');
  const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return {
    path,
    header,
    /** Element `i` of `tensor` (every element for 'all') set to `v`. */
    setValue(tensor: string, i: number | 'all', v: number) {
      const b = Buffer.from(bytes);
      const [begin, end] = header[tensor]!.data_offsets;
      for (const j of i === 'all' ? Array.from({ length: (end - begin) / 4 }, (_, k) => k) : [i]) b.writeFloatLE(v, 8 + n + begin + 4 * j);
      writeFileSync(path, b);
    },
    /** The header JSON edited in place (same length, padded with spaces). */
    editHeader(edit: (h: string) => string) {
      const text = edit(headerText);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(n);
      writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), Buffer.from(text.padEnd(n, ' ')), bytes.subarray(8 + n)]));
    },
    write(b: Uint8Array) {
      writeFileSync(path, b);
    },
    bytes,
  };
}

// [name, what to damage, what the one line must say]
const CHECKPOINT_CASES: Array<[string, (dir: string) => void, RegExp]> = [
  ['truncated by 20 bytes', (d) => checkpointOf(d).write(checkpointOf(d).bytes.subarray(0, -20)), /checkpoint\.safetensors: tensor "[^"]+": data_offsets \[\d+, \d+\] run past the \d+ bytes of data \(truncated\?\)/],
  ['truncated to 5 bytes', (d) => checkpointOf(d).write(checkpointOf(d).bytes.subarray(0, 5)), /checkpoint\.safetensors: file is 5 bytes, too short for the 8-byte header length/],
  ['a header that is not JSON', (d) => checkpointOf(d).editHeader((h) => h.replace('{"', '{[')), /checkpoint\.safetensors: header is not valid UTF-8 JSON/],
  ['a header length past the end', (d) => { const b = Buffer.from(checkpointOf(d).bytes); b.writeUInt32LE(0x7fffffff, 0); checkpointOf(d).write(b); }, /checkpoint\.safetensors: header length 2147483647 (exceeds the 100 MB limit|runs past the end)/],
  ['a wrong shape', (d) => checkpointOf(d).editHeader((h) => h.replace('"quantizer.codebook":{"dtype":"F32","shape":[1,16,4]', '"quantizer.codebook":{"dtype":"F32","shape":[1,4,16]')), /checkpoint\.safetensors: tensor "quantizer\.codebook": .*shape \[1, 4, 16\]/],
  ['a wrong dtype', (d) => checkpointOf(d).editHeader((h) => h.replace('"encoder.0.weight":{"dtype":"F32"', '"encoder.0.weight":{"dtype":"I32"')), /checkpoint\.safetensors: tensor "encoder\.0\.weight": .*int32/],
  ['NaN in a weight', (d) => checkpointOf(d).setValue('decoder.0.weight', 7, NaN), /checkpoint\.safetensors: tensor "decoder\.0\.weight": holds NaN at element 7 of \d+ \(index \[0, 0, 2, 1\]\)/],
  ['-Inf in the optimizer state', (d) => checkpointOf(d).setValue('optimizer.state.2.expAvg', 1, -Infinity), /tensor "optimizer\.state\.2\.expAvg": holds -Infinity at element 1/],
  ['a negative second moment', (d) => checkpointOf(d).setValue('optimizer.state.0.expAvgSq', 4, -0.25), /tensor "optimizer\.state\.0\.expAvgSq": .*holds -0\.25 at element 4; a second moment .* cannot be negative/],
  ['an optimizer step count of 0', (d) => checkpointOf(d).editHeader((h) => h.replace(/\\"step\\":6/, '\\"step\\":0')), /tensor "optimizer\.state\.\d+\.step": .*is 0, not a step count ≥ 1/],
  ['another config\'s checkpoint', (d) => { const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')); writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, seed: 5 }, null, 2)); }, /checkpoint\.safetensors: was saved by a run with other settings than .*config\.json \(seed: 0 in the checkpoint, 5 in config\.json\): it is not this run's checkpoint/],
  ['a step beyond the run\'s steps', (d) => checkpointOf(d).editHeader((h) => h.replace('"step":"6"', '"step":"9"')), /checkpoint\.safetensors: is at step 9, beyond the run's 8 steps in config\.json/],
  ['a step the history has not reached', (d) => writeFileSync(join(d, 'history.csv'), readFileSync(join(d, 'history.csv'), 'utf8').split('\n').slice(0, 5).join('\n') + '\n'), /history\.csv: ends at step 4, but the checkpoint is at step 6/],
  ['a history with a step missing', (d) => writeFileSync(join(d, 'history.csv'), readFileSync(join(d, 'history.csv'), 'utf8').split('\n').filter((_, i) => i !== 2).join('\n')), /history\.csv: line 3 is step 3 where step 2 was expected/],
  ['a data order out of range', (d) => checkpointOf(d).editHeader((h) => h.replace('\\"position\\":24', '\\"position\\":-4')), /checkpoint\.safetensors: metadata "batcher" \{"epoch":0,"position":-4\} is not a position in 9000 training images/],
  ['config.json that is not JSON', (d) => writeFileSync(join(d, 'config.json'), '{"method": "knn-ce",'), /--resume: .*config\.json is not valid JSON/],
  ['config.json with an impossible setting', (d) => { const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')); writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, codebookSize: -4 })); }, /config\.json: is not a run's settings \(--codebook-size: expected an integer in \[2, 65536\], got '-4'\)/],
];

describe.concurrent('damaged run folders: --resume refuses each in one line naming the file (and tensor), and changes no file', () => {
  it.each(CHECKPOINT_CASES.map((c, i) => [c[0], c, i] as const))('%s', async (_, [, damage, message], i) => {
    const dir = copyOfBase(`damaged-${i}`);
    damage(dir);
    const damaged = snapshot(dir);
    const r = await run(['train', '--resume', dir, '--steps', '8']);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r)).toMatch(message);
    expect(snapshot(dir)).toEqual(damaged); // config.json included: a refused resume writes nothing
  });
});

describe('resuming', () => {
  it('removes the temporary files of an interrupted write, and continues', async () => {
    const dir = copyOfBase('stale');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, `checkpoint.safetensors.tmp-${dead}-00aa11`), 'half a checkpoint');
    const r = await run(['train', '--resume', dir, '--steps', '7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed 1 temporary file(s) of an interrupted write: checkpoint.safetensors.tmp-${dead}-00aa11`);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a run that stopped before its first checkpoint starts again from step 0, and says so', async () => {
    const dir = join(work, 'early');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), readFileSync(join(base, 'config.json')));
    writeFileSync(join(dir, 'history.csv'), 'step,loss,recon,quantizer_loss,batch_usage,seconds\n1,0.2,0.1,0.1,1,0.1\n');
    const r = await run(['train', '--resume', dir, '--steps', '6']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/early has no checkpoint yet \(the run stopped before its first, due at step 3\): starting from step 0/);
    // The same run as the one trained in one go.
    const rows = (d: string) => readFileSync(join(d, 'history.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));
    expect(rows(dir)).toEqual(rows(base));
  });

  it('an interrupted run of a comparison with a damaged checkpoint stops compare with exit 2, naming it', async () => {
    // The finished run is compare's knn-ce-data-seed0 with these settings; without metrics.json it is an interrupted one.
    const out = join(work, 'cmp');
    const victim = join(out, 'knn-ce-data-seed0');
    mkdirSync(out);
    cpSync(base, victim, { recursive: true });
    rmSync(join(victim, 'metrics.json'));
    checkpointOf(victim).setValue('encoder.0.bias', 2, NaN);
    const kept = snapshot(out);
    const r = await run(['compare', '--methods', 'knn-ce', '--seeds', '0', '--steps', '6', '--out', out, ...TINY]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^simplex-ae compare: .*knn-ce-data-seed0\/checkpoint\.safetensors: tensor "encoder\.0\.bias": holds NaN at element 2/);
    expect(snapshot(out)).toEqual(kept);
  });
});

describe('training that produces NaN or Inf', () => {
  it('stops with exit 1 naming the step and the first non-finite quantity, and keeps the last good checkpoint', async () => {
    const dir = copyOfBase('diverging');
    // Weights at the edge of float32: the next step overflows.
    checkpointOf(dir).setValue('encoder.0.weight', 'all', 3e38);
    const checkpoint = readFileSync(join(dir, 'checkpoint.safetensors'));
    const r = await run(['train', '--resume', dir, '--steps', '12']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^simplex-ae train: training diverged at step 7: the quantizer loss is NaN; the last good checkpoint \(step 6\) is kept in .*diverging\/checkpoint\.safetensors; nothing after it was saved; try a smaller --lr$/);
    expect(readFileSync(join(dir, 'checkpoint.safetensors')).equals(checkpoint)).toBe(true);
    expect(readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(7); // steps 1–6
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
