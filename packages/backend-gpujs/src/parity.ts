/**
 * The parity suite: every Backend primitive, and a small model's loss and gradients, run on a
 * backend under test and on a reference (the CPU backend), compared within a relative error; and
 * every elementwise op on NaN, ±Inf, ±0 and other special values (SPECIAL_VALUES, all pairs for
 * binary ops), compared with the ops' definitions in @simplex-vq/tensor (src/elementwise.ts).
 *
 * It is plain library code so the same cases run in vitest (Node: gpu.js's cpu and webasm
 * targets) and in a browser page (WebGL2), where test/browser.test.ts drives it.
 *
 * Error measure of the ordinary cases: max |a − b| / max(max |a|, 1e-6) per output, i.e. relative
 * to the output's scale (elementwise relative error is meaningless for entries near zero), over
 * finite entries; a NaN or an infinity must be matched exactly (Infinity otherwise).
 * Special-value cases: each element must have the definition's NaN-ness and the same infinity,
 * and a finite element be within tolerance·max(1, |want|) — except where a documented deviation
 * (DEVIATIONS) accepts another result, which the report lists. The reductions (max, min, argmax,
 * argmin) and topk on rows full of NaN, ±Inf, ±0 and ties are compared exactly with the reference
 * functions that state their rules (referenceReduce, referenceTopk): values, NaN positions and
 * indices; no deviation is accepted.
 */
import {
  BINARY_OPS,
  Generator,
  SPECIAL_VALUES,
  UNARY_OPS,
  agrees,
  conv2d,
  convTranspose2d,
  randn,
  reference,
  referenceReduce,
  referenceTopk,
  withBackend,
  type Backend,
  type BinaryOp,
  type ConvGeometry,
  type DType,
  type HostArray,
  type Tensor,
  type UnaryOp,
} from '@simplex-vq/tensor';

export interface ParityResult {
  name: string;
  maxRelError: number;
  ok: boolean;
  error?: string;
  /** Special-value cases: elements that disagree with the definition (the first 10), e.g. "relu(NaN) = 0, want NaN". */
  mismatches?: string[];
  /** Special-value cases: elements that differ as a documented deviation allows (the first 3 per deviation). */
  deviations?: string[];
}

interface Case {
  name: string;
  /** Runs on one backend and returns the outputs to compare, read back to the host. */
  run(b: Backend): HostArray[];
  /** Special-value cases: the op, and its inputs, whose definition the output is compared with. */
  special?: { op: UnaryOp | BinaryOp; xs: readonly number[]; ys?: readonly number[] };
  /**
   * Ordering cases (reductions, topk): each output as the reference functions give it, and what
   * each element is, for the report (e.g. "argmax([1, NaN, 3]) = 2, want 1").
   */
  oracle?: () => Array<{ want: readonly number[]; label(i: number): string }>;
}

/**
 * A documented way the gpu.js backend's result may differ from the definition: accepted by the
 * special-value cases, and listed in their report.
 */
export interface Deviation {
  op: UnaryOp | BinaryOp;
  /** The inputs it concerns. */
  when(x: number, y: number): boolean;
  /** The results accepted for them. */
  accept(got: number): boolean;
  note: string;
}

const sinRange: Omit<Deviation, 'op'> = {
  when: (x) => Math.abs(x) > 1e4,
  accept: (got) => got >= -1 && got <= 1,
  note: 'range reduction in float32: accuracy falls as |x| grows (~1e-3 at 1e4), nothing is left past ~1e7; the result stays in [-1, 1]',
};

/** The gpu.js backend's documented deviations, on every target. */
export const DEVIATIONS: readonly Deviation[] = [
  { op: 'sin', ...sinRange },
  { op: 'cos', ...sinRange },
];

/** Largest |a − b| over the output's scale, over finite entries; Infinity if a NaN or an infinity is not matched exactly. */
function relError(a: HostArray, b: HostArray): number {
  if (a.length !== b.length) return Infinity;
  let scale = 1e-6, diff = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if ((x !== x && y !== y) || x === y) continue;
      return Infinity;
    }
    scale = Math.max(scale, Math.abs(x));
    diff = Math.max(diff, Math.abs(x - y));
  }
  return diff / scale;
}

const fmt = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

/** Compares a special-value case's output with the definition, element by element. */
function checkSpecial(c: NonNullable<Case['special']>, got: HostArray, tolerance: number, deviations: readonly Deviation[]): Omit<ParityResult, 'name'> {
  const mismatches: string[] = [], seen = new Map<Deviation, string[]>();
  let maxRelError = 0, count = 0;
  c.xs.forEach((x, i) => {
    const y = c.ys?.[i] ?? 0;
    const want = reference(c.op, 'float32', x, y), g = got[i]!;
    if (agrees(g, want, tolerance)) {
      if (Number.isFinite(want)) maxRelError = Math.max(maxRelError, Math.abs(g - want) / Math.max(1, Math.abs(want)));
      return;
    }
    const call = `${c.op}(${c.ys ? `${fmt(x)}, ${fmt(y)}` : fmt(x)}) = ${fmt(g)}, want ${fmt(want)}`;
    const dev = deviations.find((d) => d.op === c.op && d.when(x, y) && d.accept(g));
    if (dev) {
      const list = seen.get(dev) ?? [];
      seen.set(dev, list);
      list.push(call);
      return;
    }
    count++;
    if (mismatches.length < 10) mismatches.push(call);
  });
  if (count > mismatches.length) mismatches.push(`… ${count - mismatches.length} more`);
  const deviationLines = [...seen].map(([d, calls]) => `${calls.slice(0, 3).join('; ')}${calls.length > 3 ? ` (${calls.length} in all)` : ''}: ${d.note}`);
  return {
    maxRelError: count ? Infinity : maxRelError,
    ok: count === 0 && maxRelError <= tolerance,
    ...(count ? { mismatches } : {}),
    ...(deviationLines.length ? { deviations: deviationLines } : {}),
  };
}

/** Compares an ordering case's outputs with the reference, element by element and exactly (+0 and −0 equal). */
function checkOracle(c: Case, got: HostArray[]): Omit<ParityResult, 'name'> {
  const mismatches: string[] = [];
  let count = 0;
  c.oracle!().forEach(({ want, label }, j) => {
    const g = got[j]!;
    if (g.length !== want.length) {
      count++;
      mismatches.push(`output ${j} has ${g.length} elements, want ${want.length}`);
      return;
    }
    want.forEach((w, i) => {
      if (agrees(g[i]!, w, 0)) return;
      count++;
      if (mismatches.length < 10) mismatches.push(`${label(i)} = ${fmt(g[i]!)}, want ${fmt(w)}`);
    });
  });
  if (count > mismatches.length) mismatches.push(`… ${count - mismatches.length} more`);
  return { maxRelError: count ? Infinity : 0, ok: count === 0, ...(count ? { mismatches } : {}) };
}

/** Seeded data for the cases (the same values on every backend). */
function data(seed: number, n: number, kind: 'normal' | 'positive' | 'int' | 'distinct' = 'normal', range = 4): Float32Array {
  const g = new Generator(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'normal') v[i] = g.normal();
    else if (kind === 'positive') v[i] = 0.1 + 2 * g.random();
    else if (kind === 'int') v[i] = g.randint(0, range);
    else v[i] = i + 0.25 * g.random();
  }
  if (kind === 'distinct') {
    for (let i = n - 1; i > 0; i--) {
      const j = g.randint(0, i + 1);
      [v[i], v[j]] = [v[j]!, v[i]!];
    }
  }
  return v;
}

function primitiveCases(): Case[] {
  const cases: Case[] = [];
  const f = (b: Backend, v: ArrayLike<number>, dtype: DType = 'float32') => b.fromArray(v, dtype);
  const read = (b: Backend, h: unknown, n: number, dtype: DType = 'float32') => b.read(h, n, dtype);

  cases.push({ name: 'fromArray/read', run: (b) => [read(b, f(b, data(1, 37)), 37)] });
  cases.push({ name: 'full', run: (b) => [read(b, b.full(50, -2.5, 'float32'), 50)] });
  cases.push({ name: 'cast float→int', run: (b) => [read(b, b.cast(f(b, data(2, 40).map((x) => x * 5)), 40, 'float32', 'int32'), 40, 'int32')] });

  const unary = ['neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'relu', 'sigmoid', 'tanh', 'erf', 'gelu', 'sin', 'cos', 'square', 'reciprocal', 'floor', 'isFinite'] as const;
  for (const op of unary) {
    const positive = op === 'log' || op === 'sqrt' || op === 'reciprocal';
    cases.push({
      name: `unary ${op}`,
      run: (b) => [read(b, b.unary(op, f(b, data(3, 64, positive ? 'positive' : 'normal')), 64, 'float32'), 64, op === 'isFinite' ? 'int32' : 'float32')],
    });
  }

  const binary = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
  const shapes: Array<[number[], number[], number[]]> = [
    [[3, 4], [3, 4], [3, 4]],
    [[2, 3, 4], [4], [2, 3, 4]],
    [[2, 1, 4], [3, 1], [2, 3, 4]],
    [[5], [], [5]],
  ];
  for (const op of binary) {
    for (const [as, bs, os] of shapes) {
      const n = (s: number[]) => s.reduce((p, d) => p * d, 1);
      const kindA = op === 'pow' ? 'positive' : 'normal';
      const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
      cases.push({
        name: `binary ${op} ${JSON.stringify(as)}·${JSON.stringify(bs)}`,
        run: (b) => {
          // Comparisons get repeated values so equality happens.
          const va = cmp ? data(4, n(as), 'int', 3) : data(4, n(as), kindA);
          const vb = cmp ? data(5, n(bs), 'int', 3) : data(5, n(bs));
          return [read(b, b.binary(op, f(b, va), as, f(b, vb), bs, os, 'float32'), n(os), cmp ? 'int32' : 'float32')];
        },
      });
    }
  }

  cases.push({
    name: 'where (broadcast)',
    run: (b) => [read(b, b.where(f(b, data(6, 4, 'int', 2), 'int32'), [4], f(b, data(7, 12)), [3, 4], f(b, data(8, 3)), [3, 1], [3, 4], 'float32'), 12)],
  });

  for (const op of ['sum', 'max', 'min', 'argmax', 'argmin'] as const) {
    for (const [outer, len, inner] of [[3, 7, 1], [2, 5, 3], [1, 300, 2]] as const) {
      const arg = op === 'argmax' || op === 'argmin';
      cases.push({
        name: `reduce ${op} [${outer},${len},${inner}]`,
        run: (b) => [read(b, b.reduce(op, f(b, data(9, outer * len * inner, arg ? 'distinct' : 'normal')), outer, len, inner, 'float32'), outer * inner, arg ? 'int32' : 'float32')],
      });
    }
  }

  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const batch = 2, m = 5, k = 7, n = 3;
    cases.push({
      name: `matmul transA=${transA} transB=${transB}`,
      run: (b) => [read(b, b.matmul(f(b, data(10, batch * m * k)), f(b, data(11, k * n)), { batch, m, k, n, aBatchStride: m * k, bBatchStride: 0, transA, transB }), batch * m * n)],
    });
  }
  cases.push({
    name: 'matmul 64×96 @ 96×40',
    run: (b) => [read(b, b.matmul(f(b, data(12, 64 * 96)), f(b, data(13, 96 * 40)), { batch: 1, m: 64, k: 96, n: 40, aBatchStride: 0, bBatchStride: 0, transA: false, transB: false }), 64 * 40)],
  });

  cases.push({ name: 'permute [2,3,4]→(2,0,1)', run: (b) => [read(b, b.permute(f(b, data(14, 24)), [2, 3, 4], [2, 0, 1], 'float32'), 24)] });
  cases.push({ name: 'broadcastTo [3,1]→[2,3,4]', run: (b) => [read(b, b.broadcastTo(f(b, data(15, 3)), [3, 1], [2, 3, 4], 'float32'), 24)] });
  cases.push({ name: 'slice with steps', run: (b) => [read(b, b.slice(f(b, data(16, 60)), [3, 4, 5], [1, 0, 1], [1, 2, 2], [2, 2, 2], 'float32'), 8)] });
  cases.push({ name: 'sliceScatter (pad-like, fill 7)', run: (b) => [read(b, b.sliceScatter(f(b, data(17, 8)), [2, 2, 2], [1, 0, 1], [1, 2, 2], [3, 4, 5], 7, 'float32'), 60)] });
  cases.push({ name: 'concat of 3', run: (b) => [read(b, b.concat([f(b, data(18, 2 * 1 * 3)), f(b, data(19, 2 * 2 * 3)), f(b, data(20, 2 * 4 * 3))], 2, [1, 2, 4], 3, 'float32'), 2 * 7 * 3)] });

  const idx = (seed: number, n: number, range: number) => data(seed, n, 'int', range);
  cases.push({ name: 'gather', run: (b) => [read(b, b.gather(f(b, data(21, 2 * 5 * 3)), 2, 5, 3, f(b, idx(22, 2 * 4 * 3, 5), 'int32'), 4, 'float32'), 24)] });
  cases.push({ name: 'scatterAdd', run: (b) => [read(b, b.scatterAdd(f(b, data(23, 2 * 5 * 3)), 2, 5, 3, f(b, idx(24, 2 * 6 * 3, 5), 'int32'), f(b, data(25, 36)), 6, 'float32'), 30)] });
  cases.push({ name: 'indexSelect', run: (b) => [read(b, b.indexSelect(f(b, data(26, 2 * 5 * 3)), 2, 5, 3, f(b, idx(27, 7, 5), 'int32'), 7, 'float32'), 42)] });
  cases.push({ name: 'indexAdd', run: (b) => [read(b, b.indexAdd(f(b, data(28, 2 * 5 * 3)), 2, 5, 3, f(b, idx(29, 7, 5), 'int32'), f(b, data(30, 42)), 7, 'float32'), 30)] });
  for (const largest of [true, false]) {
    cases.push({
      name: `topk k=3 largest=${largest}`,
      run: (b) => {
        const r = b.topk(f(b, data(31, 4 * 9, 'distinct')), 4, 9, 1, 3, largest, 'float32');
        return [read(b, r.values, 12), read(b, r.indices, 12, 'int32')];
      },
    });
  }
  const g: ConvGeometry = { n: 2, c: 3, h: 6, w: 5, kh: 3, kw: 2, strideH: 2, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 2, oh: 3, ow: 4 };
  const colsLen = g.c * g.kh * g.kw * g.n * g.oh * g.ow;
  cases.push({ name: 'im2col (stride, padding, dilation)', run: (b) => [read(b, b.im2col(f(b, data(32, g.n * g.c * g.h * g.w)), g), colsLen)] });
  cases.push({ name: 'col2im (stride, padding, dilation)', run: (b) => [read(b, b.col2im(f(b, data(33, colsLen)), g), g.n * g.c * g.h * g.w)] });
  return cases;
}

/**
 * NaN, ±Inf, ±0, ±1, tiny and huge values through every elementwise op (binary ops: every pair,
 * and a broadcast), and through where, compared with the ops' definitions.
 */
function specialValueCases(): Case[] {
  const cases: Case[] = [];
  const v = SPECIAL_VALUES, n = v.length;
  const f = (b: Backend, vs: readonly number[]) => b.fromArray(vs, 'float32');
  for (const op of Object.keys(UNARY_OPS) as UnaryOp[]) {
    cases.push({
      name: `special values: unary ${op}`,
      special: { op, xs: v },
      run: (b) => [b.read(b.unary(op, f(b, v), n, 'float32'), n, op === 'isFinite' ? 'int32' : 'float32')],
    });
  }
  // xs: each value n times; ys: the values, n times over: every pair.
  const xs = v.flatMap((x) => v.map(() => x)), ys = v.flatMap(() => v);
  for (const op of Object.keys(BINARY_OPS) as BinaryOp[]) {
    const dtype = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op) ? 'int32' : 'float32';
    cases.push({
      name: `special values: binary ${op}`,
      special: { op, xs, ys },
      // The same pairs twice: elementwise, and as a [n, 1] column broadcast against a row [n].
      run: (b) => [
        b.read(b.binary(op, f(b, xs), [n * n], f(b, ys), [n * n], [n * n], 'float32'), n * n, dtype),
        b.read(b.binary(op, f(b, v), [n, 1], f(b, v), [n], [n, n], 'float32'), n * n, dtype),
      ],
    });
  }
  cases.push({
    name: 'special values: where',
    run: (b) => [b.read(b.where(b.fromArray(v.map((_, i) => i % 2), 'int32'), [n], f(b, v), [n], f(b, [...v].reverse()), [n], [n], 'float32'), n, 'float32')],
  });
  return cases;
}

/**
 * Rows of 6 for the ordering cases: the issue's example, several NaNs, a NaN first and last, an
 * all-NaN row, rows of ±Inf alone, ties of ±Inf and of ±0, large and tiny magnitudes, and seeded
 * rows drawn from a small pool (so values repeat). Rounded to float32, the storage under test.
 */
function orderingRows(): number[][] {
  const inf = Infinity;
  const rows = [
    [1, NaN, 3, -inf, 0, 5],
    [NaN, NaN, 2, NaN, -1, 5],
    [-inf, inf, 0, -0, inf, -2],
    [NaN, NaN, NaN, NaN, NaN, NaN],
    [2, 2, -inf, -inf, -inf, 5],
    [0.5, -0, 0, 1, -1, 0.5],
    [3, 1, 2, 0, -1, NaN],
    [NaN, -inf, inf, NaN, -0, 0],
    [inf, inf, inf, inf, inf, inf],
    [-inf, -inf, -inf, -inf, -inf, -inf],
    [1e30, -1e30, 1e-30, -1e-30, 100, -100],
  ];
  const pool = [NaN, inf, -inf, 0, -0, 1, -1, 2.5, -2.5, 1e30];
  const g = new Generator(41);
  while (rows.length < 18) rows.push(Array.from({ length: 6 }, () => pool[g.randint(0, pool.length)]!));
  return rows.map((r) => r.map(Math.fround));
}

const fmtRow = (r: readonly number[]) => `[${r.map(fmt).join(', ')}]`;

/**
 * max, min, argmax, argmin and topk (both directions, k = 1, 3 and the whole row) on
 * orderingRows(), compared exactly with referenceReduce and referenceTopk. The reductions run
 * on rows laid out along the middle axis of [rows, 6, 1] and, strided, of [3, 6, 6].
 */
function orderingCases(): Case[] {
  const cases: Case[] = [];
  const rows = orderingRows(), len = 6;
  for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
    const arg = op === 'argmax' || op === 'argmin';
    for (const [outer, inner] of [[rows.length, 1], [rows.length / 6, 6]] as const) {
      // Row r = o·inner + i sits at x[o, :, i].
      const x = new Float32Array(outer * len * inner);
      rows.forEach((row, r) => row.forEach((v, l) => (x[(Math.floor(r / inner) * len + l) * inner + (r % inner)] = v)));
      cases.push({
        name: `special values: reduce ${op} [${outer},${len},${inner}]`,
        oracle: () => [{ want: rows.map((row) => referenceReduce(op, row)), label: (r) => `${op}(${fmtRow(rows[r]!)})` }],
        run: (b) => [b.read(b.reduce(op, b.fromArray(x, 'float32'), outer, len, inner, 'float32'), outer * inner, arg ? 'int32' : 'float32')],
      });
    }
  }
  const flat = rows.flat();
  for (const k of [1, 3, len]) {
    for (const largest of [true, false]) {
      const call = (r: number) => `topk(${fmtRow(rows[r]!)}, ${k}, largest=${largest})`;
      cases.push({
        name: `special values: topk k=${k} largest=${largest}`,
        oracle: () => {
          const want = rows.map((row) => referenceTopk(row, k, largest));
          return [
            { want: want.flatMap((w) => w.values), label: (i) => `${call(Math.floor(i / k))}.values[${i % k}]` },
            { want: want.flatMap((w) => w.indices), label: (i) => `${call(Math.floor(i / k))}.indices[${i % k}]` },
          ];
        },
        run: (b) => {
          const r = b.topk(b.fromArray(flat, 'float32'), rows.length, len, 1, k, largest, 'float32');
          return [b.read(r.values, rows.length * k, 'float32'), b.read(r.indices, rows.length * k, 'int32')];
        },
      });
    }
  }
  return cases;
}

/**
 * A small conv net with a smoothed quantizer and a KNN-style top-k loss: the kind of step the
 * experiments run. Returns the loss and every parameter's gradient.
 */
function modelCase(): Case {
  return {
    name: 'conv net + smoothed quantizer + KNN top-k loss: loss and gradients',
    run: (b) =>
      withBackend(b, () => {
        const gen = new Generator(7);
        const x = randn([4, 1, 8, 8], { generator: gen });
        const w1 = randn([6, 1, 3, 3], { generator: gen }).mul(0.3).requiresGrad_();
        const b1 = randn([6], { generator: gen }).mul(0.1).requiresGrad_();
        const codebook = randn([10, 6], { generator: gen }).requiresGrad_();
        const w2 = randn([6, 1, 4, 4], { generator: gen }).mul(0.2).requiresGrad_();
        const z = conv2d(x, w1, b1, { stride: 2, padding: 1 }).gelu(); // [4, 6, 4, 4]
        const zf = z.permute([0, 2, 3, 1]).reshape([-1, 6]); // N×C, N = 64
        // Smoothed quantizer: logits = −‖z − e‖², p = softmax, q = pE.
        const d2 = zf.square().sum(1, true).sub(zf.matmul(codebook.mT).mul(2)).add(codebook.square().sum(1).unsqueeze(0));
        const logits = d2.neg();
        const p = logits.softmax(-1);
        const q = p.matmul(codebook).reshape([4, 4, 4, 6]).permute([0, 3, 1, 2]);
        const recon = convTranspose2d(q, w2, null, { stride: 2, padding: 1 }); // [4, 1, 8, 8]
        const mse = recon.sub(x).square().mean();
        // KNN-CE: for every code (column), its 2 nearest quantizers are the 2 largest log-probs.
        const knn = logits.logSoftmax(-1).topk(2, 0).values.neg().mean();
        const loss = mse.add(knn);
        loss.backward();
        const out: Tensor[] = [loss, w1.grad!, b1.grad!, codebook.grad!, w2.grad!];
        return out.map((t) => t.data());
      }),
  };
}

function allCases(): Case[] {
  return [...primitiveCases(), ...specialValueCases(), ...orderingCases(), modelCase()];
}

/**
 * Runs every case on `backend` and `referenceBackend` and compares them; special-value cases are
 * compared with the definitions instead, allowing `deviations`, and ordering cases (reductions,
 * topk) exactly with the reference functions.
 */
export function runParitySuite(
  backend: Backend,
  referenceBackend: Backend,
  tolerance = 1e-4,
  filter?: (name: string) => boolean,
  deviations: readonly Deviation[] = DEVIATIONS,
): ParityResult[] {
  const results: ParityResult[] = [];
  for (const c of allCases()) {
    if (filter && !filter(c.name)) continue;
    try {
      const got = c.run(backend);
      if (c.oracle) {
        results.push({ name: c.name, ...checkOracle(c, got) });
        continue;
      }
      if (c.special) {
        // Every output of a special case holds the same pairs: each is checked.
        const checks = got.map((g) => checkSpecial(c.special!, g, tolerance, deviations));
        const bad = checks.find((r) => !r.ok) ?? checks[0]!;
        results.push({ name: c.name, ...bad });
        continue;
      }
      const want = c.run(referenceBackend);
      const err = Math.max(...want.map((w, i) => relError(w, got[i]!)));
      results.push({ name: c.name, maxRelError: err, ok: err <= tolerance });
    } catch (e) {
      results.push({ name: c.name, maxRelError: Infinity, ok: false, error: (e as Error).stack ?? String(e) });
    }
  }
  return results;
}

/** The case names, for tests that want one test per case. */
export function parityCaseNames(): string[] {
  return allCases().map((c) => c.name);
}
