/**
 * Starting one engine of the peer benchmark in its own process and reading the record it prints:
 * shared by bench:peer (run.ts), bench:memory and bench:scaling. simplex-vq's and TF.js's engines
 * run dist/peer/engine.js under this Node; PyTorch's run bench/peer/torch_step.py under the python
 * that imports torch (findTorch in ../trajectory/torch.ts).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, RESULT_PREFIX, type EngineId, type EngineReport } from './common.js';

/** dist/peer/engine.js (this file is dist/peer/child.js once built). */
export const ENGINE_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine.js');
export const TORCH_STEP_PY = path.join(BENCH_DIR, 'peer', 'torch_step.py');

export interface ChildResult {
  result: unknown;
  error: string | null;
}

/** Runs a child to completion; resolves with the record it printed after RESULT_PREFIX. */
export function runChild(cmd: string, args: string[], timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    // No __pycache__ left in bench/peer by the python children.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (line) resolve({ result: JSON.parse(line.slice(RESULT_PREFIX.length)), error: null });
      else resolve({ result: null, error: signal ? `killed (${signal}) after ${timeoutMs / 1000} s` : `exited with code ${code} without a result` });
    });
    child.on('error', (e) => resolve({ result: null, error: e.message }));
  });
}

export const isTorch = (engine: EngineId): engine is 'torch-1' | 'torch-2' => engine.startsWith('torch');

/**
 * Runs `engine` with the arguments both engine.js and torch_step.py take (--inputs, --batch,
 * --warmup, --steps, --min-seconds, --check, --knn-alone, --memory-steps). A PyTorch engine needs
 * `python`. When the child prints no record, the report carries the reason in `error`.
 */
export async function runEngineChild(engine: EngineId, python: string | null, args: string[], timeoutMs: number, batch: number): Promise<EngineReport> {
  let run: ChildResult;
  if (isTorch(engine)) {
    if (!python) throw new Error(`${engine} needs a python that imports torch`);
    run = await runChild(python, [TORCH_STEP_PY, ...args, '--threads', engine.slice('torch-'.length)], timeoutMs);
  } else {
    run = await runChild(process.execPath, [ENGINE_JS, '--engine', engine, ...args], timeoutMs);
  }
  return (run.result as EngineReport | null) ?? {
    engine, describe: engine, batch, error: run.error, timing: null, peakRssMb: null, firstLoss: null, check: null,
  };
}

/**
 * Writes the inputs file every engine reads (simplex-vq's initial weights, the batches, a reference
 * step on `checkBatch`), by engine.js in a child process; `model` resizes the model (bench:scaling).
 */
export function makeInputsFile(file: string, batches: readonly number[], checkBatch: number, model: { codebookSize: number; dim: number } | null = null, timeoutMs = 15 * 60_000): Promise<ChildResult> {
  const sizes = model ? ['--codebook-size', String(model.codebookSize), '--dim', String(model.dim)] : [];
  return runChild(process.execPath, [ENGINE_JS, '--make-inputs', file, '--batches', batches.join(','), '--check-batch', String(checkBatch), ...sizes], timeoutMs);
}
