/**
 * A pool of worker threads for large matrix products, over SharedArrayBuffer.
 *
 * The engine is synchronous, so the calling thread hands part of a product to each worker, does
 * its own part, then blocks on `Atomics.wait` until the workers are done. Operands are copied
 * into one shared buffer (O(mk + kn) work for O(mkn) arithmetic); each thread runs the same
 * `gemmRows` kernel on its own block of rows (or columns, when the output is wide and short).
 *
 * Where worker_threads, SharedArrayBuffer or a blocking `Atomics.wait` is missing (a browser page
 * that is not cross-origin isolated, or a browser's main thread), `ThreadPool.create` returns
 * null and the backend runs single-threaded; the results are identical either way, since every
 * output element is computed by the same kernel with the same order of operations.
 */
import { gemmRows } from './gemm.js';

interface WorkerLike {
  postMessage(msg: unknown): void;
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', fn: (err: Error) => void): void;
}

interface WorkerThreadsModule {
  Worker: new (src: string, opts: { eval: true }) => WorkerLike;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const gemmRows = ${gemmRows.toString()};
parentPort.on('message', (job) => {
  const F = job.f64 ? Float64Array : Float32Array;
  const a = new F(job.aBuf), b = new F(job.bBuf), c = new F(job.cBuf);
  const s = job.spec;
  for (let q = 0; q < s.batch; q++) {
    gemmRows(s.m, job.n, s.k, a, q * s.aBatchStride + s.aOff, s.ars, s.acs,
      b, q * s.bBatchStride + job.bOff, s.brs, s.bcs, c, q * s.m * s.n + job.cOff, s.n, job.r0, job.r1);
  }
  const ctrl = new Int32Array(job.ctrl);
  Atomics.add(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
});
`;

function loadWorkerThreads(): WorkerThreadsModule | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc || typeof proc.getBuiltinModule !== 'function') return null;
  try {
    return proc.getBuiltinModule('node:worker_threads') as WorkerThreadsModule;
  } catch {
    return null;
  }
}

function availableCores(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus(): unknown[] } | undefined;
  if (!os) return 1;
  return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
}

/** The layout of one batched product as the workers see it (strides already resolved). */
export interface GemmJob {
  batch: number;
  m: number;
  n: number;
  k: number;
  aOff: number;
  ars: number;
  acs: number;
  brs: number;
  bcs: number;
  aBatchStride: number;
  bBatchStride: number;
}

export class ThreadPool {
  private constructor(private readonly workers: WorkerLike[]) {}

  /** Number of threads that work on a product, the calling thread included. */
  get size(): number {
    return this.workers.length + 1;
  }

  /**
   * A pool of `threads` threads in all (the caller plus threads − 1 workers), or null where
   * threads cannot be used. The default is the number of available cores.
   */
  static create(threads = availableCores()): ThreadPool | null {
    if (threads < 2) return null;
    if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return null;
    const wt = loadWorkerThreads();
    if (!wt) return null;
    try {
      const workers: WorkerLike[] = [];
      for (let i = 0; i < threads - 1; i++) {
        const w = new wt.Worker(WORKER_SOURCE, { eval: true });
        w.unref(); // idle workers must not keep the process alive
        workers.push(w);
      }
      return new ThreadPool(workers);
    } catch {
      return null;
    }
  }

  /**
   * Computes the batched product and returns it (length batch·m·n) in a typed array over shared
   * memory, so no copy is needed on the way out. `a` and `b` hold the operands in the layout the
   * strides of `job` describe; operands already in shared memory are not copied on the way in.
   */
  gemm(job: GemmJob, a: Float32Array | Float64Array, b: Float32Array | Float64Array, f64: boolean): Float32Array | Float64Array {
    const bytes = f64 ? 8 : 4;
    const view = (buf: SharedArrayBuffer) => (f64 ? new Float64Array(buf as unknown as ArrayBuffer) : new Float32Array(buf as unknown as ArrayBuffer));
    const share = (x: Float32Array | Float64Array): [SharedArrayBuffer, Float32Array | Float64Array] => {
      if (x.buffer instanceof SharedArrayBuffer && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength && x.BYTES_PER_ELEMENT === bytes) {
        return [x.buffer, x];
      }
      const buf = new SharedArrayBuffer(x.length * bytes);
      const v = view(buf);
      v.set(x);
      return [buf, v];
    };
    const [aBuf, as] = share(a);
    const [bBuf, bs] = share(b);
    const cBuf = new SharedArrayBuffer(job.batch * job.m * job.n * bytes);
    const cs = view(cBuf);
    const ctrl = new Int32Array(new SharedArrayBuffer(4));
    const t = this.size;
    // Split the larger of m and n; every thread gets a contiguous block, a multiple of 4 wide.
    const byRows = job.m >= job.n || job.m >= 4 * t;
    const total = byRows ? job.m : job.n;
    const cut = (i: number) => (i === t ? total : Math.min(total, Math.ceil((total * i) / t / 4) * 4));
    const run = (lo: number, hi: number) =>
      byRows
        ? { n: job.n, bOff: 0, cOff: 0, r0: lo, r1: hi }
        : { n: hi - lo, bOff: lo * job.bcs, cOff: lo, r0: 0, r1: job.m };
    for (let i = 1; i < t; i++) {
      this.workers[i - 1]!.postMessage({ f64, aBuf, bBuf, cBuf, ctrl: ctrl.buffer, spec: job, ...run(cut(i), cut(i + 1)) });
    }
    const mine = run(0, cut(1));
    for (let q = 0; q < job.batch; q++) {
      gemmRows(job.m, mine.n, job.k, as, q * job.aBatchStride + job.aOff, job.ars, job.acs,
        bs, q * job.bBatchStride + mine.bOff, job.brs, job.bcs, cs, q * job.m * job.n + mine.cOff, job.n, mine.r0, mine.r1);
    }
    for (;;) {
      const done = Atomics.load(ctrl, 0);
      if (done >= t - 1) break;
      Atomics.wait(ctrl, 0, done, 60_000);
    }
    return cs;
  }

  /** Stops the workers. */
  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
