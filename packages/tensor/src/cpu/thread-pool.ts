/**
 * A pool of worker threads for large matrix products, over SharedArrayBuffer.
 *
 * The engine is synchronous, so the calling thread hands part of a product to each worker, does
 * its own part, then blocks on `Atomics.wait` until the workers are done. Everything a job needs
 * travels through shared memory:
 *  - one scratch buffer, grown when a product does not fit, holds A, B and C; operands are copied
 *    in (O(mk + kn) work for O(mkn) arithmetic) and the result copied out;
 *  - a small control block per worker holds the job's parameters and two counters: the caller
 *    bumps `posted` and wakes the worker, the worker bumps `done` and wakes the caller.
 * No message is posted per job (a postMessage costs more than a small product); only a grown
 * scratch buffer is sent, once, which the worker collects with `receiveMessageOnPort`.
 *
 * Each thread runs the same `gemmRows` kernel on its own block of rows (or of columns when the
 * output is wide and short), so results are bit-identical to the single-threaded ones. Where
 * worker_threads, SharedArrayBuffer or a blocking `Atomics.wait` is missing (a browser page that
 * is not cross-origin isolated, or a browser's main thread), `ThreadPool.create` returns null and
 * the backend runs on one thread.
 */
import { gemmRows } from './gemm.js';
import type { GemmSimdKernel } from './gemm-simd.js';

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
}

interface PortLike {
  postMessage(msg: unknown): void;
  close(): void;
}

interface WorkerThreadsModule {
  Worker: new (src: string, opts: { eval: true; workerData: unknown; transferList: unknown[] }) => WorkerLike;
  MessageChannel: new () => { port1: PortLike; port2: PortLike };
}

/** Layout of a control block: two Int32 counters, then the job's parameters as Float64. */
const POSTED = 0, DONE = 1;
const PARAMS = [
  'f64', 'gen', 'batch', 'm', 'n', 'k', 'aOff', 'ars', 'acs', 'brs', 'bcs', 'aBatchStride', 'bBatchStride',
  'bBase', 'cBase', 'ldc', 'nSub', 'bOff', 'cOff', 'r0', 'r1',
] as const;
const P = Object.fromEntries(PARAMS.map((p, i) => [p, i])) as Record<(typeof PARAMS)[number], number>;
const CTRL_BYTES = 16 + 8 * PARAMS.length;

const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const gemmRows = ${gemmRows.toString()};
const P = ${JSON.stringify(P)};
// Each worker instantiates its own copy of the SIMD kernel (with its own memory) when the caller has one.
const simd = workerData.simd ? new WebAssembly.Instance(new WebAssembly.Module(workerData.simd)).exports : null;
const counters = new Int32Array(workerData.ctrl, 0, 2);
const params = new Float64Array(workerData.ctrl, 16, ${PARAMS.length});
let scratch = null, gen = -1, seen = 0;
for (;;) {
  Atomics.wait(counters, ${POSTED}, seen);
  seen = Atomics.load(counters, ${POSTED});
  if (params[P.gen] < 0) break; // terminate
  while (gen !== params[P.gen]) {
    const msg = receiveMessageOnPort(workerData.port);
    if (msg) { scratch = msg.message.buffer; gen = msg.message.gen; }
  }
  const F = params[P.f64] ? Float64Array : Float32Array;
  const s = new F(scratch);
  const g = (name) => params[P[name]];
  for (let q = 0; q < g('batch'); q++) {
    gemmRows(g('m'), g('nSub'), g('k'), s, q * g('aBatchStride') + g('aOff'), g('ars'), g('acs'),
      s, g('bBase') + q * g('bBatchStride') + g('bOff'), g('brs'), g('bcs'),
      s, g('cBase') + q * g('m') * g('n') + g('cOff'), g('ldc'), g('r0'), g('r1'), simd);
  }
  Atomics.store(counters, ${DONE}, seen);
  Atomics.notify(counters, ${DONE});
}
`;

function builtin<T>(id: string): T | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc || typeof proc.getBuiltinModule !== 'function') return null;
  try {
    return proc.getBuiltinModule(id) as T;
  } catch {
    return null;
  }
}

function availableCores(): number {
  const os = builtin<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os');
  if (!os) return 1;
  return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
}

/** The layout of one batched product (strides already resolved). */
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

interface Helper {
  worker: WorkerLike;
  port: PortLike;
  counters: Int32Array;
  params: Float64Array;
  posted: number;
}

export class ThreadPool {
  private scratch: SharedArrayBuffer = new SharedArrayBuffer(0);
  private gen = 0;
  /** Products run through the pool so far (for tests and profiling). */
  jobs = 0;

  private constructor(private readonly helpers: Helper[]) {
    this.share(1 << 16);
  }

  /** Number of threads that work on a product, the calling thread included. */
  get size(): number {
    return this.helpers.length + 1;
  }

  /**
   * A pool of `threads` threads in all (the caller plus threads − 1 workers), or null where
   * threads cannot be used. The default is the number of available cores. `simd`: the bytes of
   * the SIMD kernel's module, which each worker instantiates (null: workers use JavaScript only).
   */
  static create(threads = availableCores(), simd: Uint8Array | null = null): ThreadPool | null {
    if (threads < 2) return null;
    if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return null;
    const wt = builtin<WorkerThreadsModule>('node:worker_threads');
    if (!wt) return null;
    try {
      const helpers: Helper[] = [];
      for (let i = 0; i < threads - 1; i++) {
        const ctrl = new SharedArrayBuffer(CTRL_BYTES);
        const { port1, port2 } = new wt.MessageChannel();
        const worker = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl, port: port2, simd }, transferList: [port2] });
        worker.unref(); // an idle pool must not keep the process alive
        helpers.push({ worker, port: port1, counters: new Int32Array(ctrl, 0, 2), params: new Float64Array(ctrl, 16, PARAMS.length), posted: 0 });
      }
      return new ThreadPool(helpers);
    } catch {
      return null;
    }
  }

  /** Makes the scratch buffer at least `bytes` long and hands the new one to every worker. */
  private share(bytes: number): void {
    if (this.scratch.byteLength >= bytes) return;
    this.scratch = new SharedArrayBuffer(Math.ceil(Math.max(bytes, this.scratch.byteLength * 1.5) / 8) * 8);
    this.gen++;
    for (const h of this.helpers) h.port.postMessage({ gen: this.gen, buffer: this.scratch });
  }

  /**
   * Computes the batched product into a new array of length batch·m·n. `a` and `b` hold the
   * operands in the layout the strides of `job` describe.
   */
  gemm(job: GemmJob, a: Float32Array | Float64Array, b: Float32Array | Float64Array, f64: boolean, simd: GemmSimdKernel | null = null): Float32Array | Float64Array {
    const bytes = f64 ? 8 : 4;
    const cLen = job.batch * job.m * job.n;
    const bBase = a.length, cBase = a.length + b.length;
    this.share((cBase + cLen) * bytes);
    const s = f64 ? new Float64Array(this.scratch as unknown as ArrayBuffer) : new Float32Array(this.scratch as unknown as ArrayBuffer);
    s.set(a, 0);
    s.set(b, bBase);
    const t = this.size;
    // Split the larger of m and n; every thread gets a contiguous block, a multiple of 4 wide.
    // Each thread packs its part of the split operand and all of the other, so splitting the
    // larger side leaves only the smaller operand packed twice: for a wide product (a conv's
    // [32, 512]·[512, 784]) splitting the rows had both threads pack all of B, which cost 10-20%
    // more CPU time than splitting the columns.
    const byRows = job.m >= job.n;
    const total = byRows ? job.m : job.n;
    const cut = (i: number) => (i === t ? total : Math.min(total, Math.ceil((total * i) / t / 4) * 4));
    const part = (lo: number, hi: number) =>
      byRows ? { nSub: job.n, bOff: 0, cOff: 0, r0: lo, r1: hi } : { nSub: hi - lo, bOff: lo * job.bcs, cOff: lo, r0: 0, r1: job.m };
    this.helpers.forEach((h, i) => {
      const p = { ...job, ...part(cut(i + 1), cut(i + 2)), f64: f64 ? 1 : 0, gen: this.gen, bBase, cBase, ldc: job.n };
      for (const name of PARAMS) h.params[P[name]] = p[name];
      h.posted = Atomics.add(h.counters, POSTED, 1) + 1;
      Atomics.notify(h.counters, POSTED);
    });
    const mine = part(0, cut(1));
    for (let q = 0; q < job.batch; q++) {
      gemmRows(job.m, mine.nSub, job.k, s, q * job.aBatchStride + job.aOff, job.ars, job.acs,
        s, bBase + q * job.bBatchStride + mine.bOff, job.brs, job.bcs, s, cBase + q * job.m * job.n + mine.cOff, job.n, mine.r0, mine.r1, simd);
    }
    for (const h of this.helpers) {
      for (;;) {
        const done = Atomics.load(h.counters, DONE);
        if (done === h.posted) break;
        Atomics.wait(h.counters, DONE, done, 60_000);
      }
    }
    this.jobs++;
    return s.slice(cBase, cBase + cLen);
  }

  /** Stops the workers. */
  async terminate(): Promise<void> {
    for (const h of this.helpers) {
      h.params[P.gen] = -1;
      Atomics.add(h.counters, POSTED, 1);
      Atomics.notify(h.counters, POSTED);
      h.port.close();
    }
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}
