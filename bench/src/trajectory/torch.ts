/**
 * PyTorch's side of the trajectory check, from Node: finding a python that imports torch, and
 * running bench/peer/torch_trajectory.py as a child process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResyncRow } from './check.js';
import type { Curve } from './ours.js';

/** bench/ (this file is bench/src/trajectory/torch.ts, or bench/dist/trajectory/torch.js once built). */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TORCH_PY = path.join(BENCH_DIR, 'peer', 'torch_trajectory.py');
const RESULT_PREFIX = 'TRAJECTORY-RESULT ';

export type TorchFound = { python: string; version: string } | { python: null; why: string };

/**
 * The first python that imports torch, or why there is none: `python` if given, else the one in
 * the environment variable BENCH_TORCH_PYTHON if set, else (as the peer benchmark looks) `python3`,
 * then Debian's `/usr/bin/python3`, which `apt-get install -y python3-torch` serves.
 */
export function findTorch(python: string | undefined = process.env.BENCH_TORCH_PYTHON || undefined): TorchFound {
  const candidates = python ? [python] : ['python3', '/usr/bin/python3'];
  const tried: string[] = [];
  for (const exe of candidates) {
    try {
      const version = execFileSync(exe, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 }).trim();
      return { python: exe, version };
    } catch {
      tried.push(exe);
    }
  }
  return { python: null, why: `no python that can import torch (tried ${tried.join(', ')}); install it with \`apt-get install -y python3-torch\`` };
}

/** What the twin writes: per method, per run name (f64, f64-ulp1, f32, f32-ulp1, ...), the curve; or the resync rows. */
export interface TorchResult {
  torch: string;
  threads: number;
  runs?: Record<string, Record<string, Curve>>;
  seconds?: Record<string, number>;
  resync?: Record<string, ResyncRow[]>;
}

export interface TorchOptions {
  python: string;
  inputs: string;
  out: string;
  /** Training mode: the methods and the number of rounding variants; resync mode: our states' file. */
  mode: { methods: readonly string[]; ulps: number; perms: number; ulps64: number } | { resync: string };
  /** Show the child's progress on this process's stderr (default true); otherwise it is kept for error messages. */
  showProgress?: boolean;
}

/** Runs the twin; resolves with its result, or rejects with what went wrong (its stderr's last lines). */
export function runTorch(o: TorchOptions): Promise<TorchResult> {
  const args = [TORCH_PY, '--inputs', o.inputs, '--out', o.out];
  if ('resync' in o.mode) args.push('--resync', o.mode.resync);
  else args.push('--methods', o.mode.methods.join(','), '--ulps', String(o.mode.ulps), '--perms', String(o.mode.perms), '--ulps64', String(o.mode.ulps64));
  return new Promise((resolve, reject) => {
    const child = spawn(o.python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (o.showProgress ?? true) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code === 0 && line) {
        try {
          resolve(JSON.parse(readFileSync(line.slice(RESULT_PREFIX.length).trim(), 'utf8')) as TorchResult);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
        return;
      }
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      reject(new Error(`${path.basename(TORCH_PY)} ${signal ? `was killed (${signal})` : `exited with code ${code}`}${tail ? `:\n${tail}` : ''}`));
    });
  });
}
