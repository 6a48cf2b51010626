/**
 * The CPU backend with a chosen number of threads, for the experiment CLIs' `--threads`. Results
 * do not depend on it (the thread pool is bit-identical to one thread), so it is never part of a
 * run's identity; it decides how a machine's cores are shared, e.g. two one-thread runs side by
 * side instead of one two-thread run (the pool speeds a whole training step up far less than it
 * does a bare matmul).
 */
import { CpuBackend, getBackend, setBackend } from '@simplex-vq/tensor';
import { intOption } from './options.js';

/** One backend per thread count for the whole process: a comparison trains many runs, and each backend owns a pool of worker threads. */
const backends = new Map<number, CpuBackend>();

/** Makes the CPU backend with `threads` threads current ('auto': the default backend, every core); returns a description. */
export function useCpuBackend(threads: number | 'auto' = 'auto'): string {
  if (threads === 'auto') setBackend('cpu');
  else {
    if (!backends.has(threads)) backends.set(threads, new CpuBackend({ threads }));
    setBackend(backends.get(threads)!);
  }
  return `cpu (${(getBackend() as { threadCount?: number }).threadCount ?? 1} threads)`;
}

/** `--threads`: 'auto' or an integer in [1, 256]. */
export function threadsOption(value: unknown): number | 'auto' {
  return value === 'auto' ? 'auto' : intOption('threads', value, 1, 256);
}
