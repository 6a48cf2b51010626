/**
 * The float32 matmul micro-kernel as a tiny WebAssembly module using 128-bit SIMD (f32x4),
 * assembled here from its instructions so the package ships no binary.
 *
 * It computes a whole block of C from packed panels, in the style of BLIS: A in row panels of
 * MR rows (k-major), B in column panels of NR = 8 columns (k-major), C row-major in the module's
 * memory. For each column panel of B (kept in L1 while every row panel of A streams past it) and
 * each row panel of A, an MR×8 block is summed over kc steps in 2·MR four-lane registers — with
 * MR = 4, 32 multiply-adds per step for 2 loads of B and 4 broadcasts of A — and then stored into
 * C, or added to what C holds when `accumulate` is 1 (the later blocks of k).
 *
 * Arithmetic is float32, product then sum, each rounded (IEEE, no fused multiply-add; WebAssembly
 * SIMD keeps subnormals), starting from +0 for each block of k: the JavaScript kernel of gemm.ts
 * does exactly the same with Math.fround, so both give the same bits (tests check it). Compared with
 * the earlier float64 kernel (f64x2, two lanes, 4×4 blocks added into C by JavaScript) this does
 * twice the multiply-adds per instruction and leaves nothing per block to JavaScript; see
 * docs/results/performance.md for the measured effect.
 *
 * B is read through two strides: packed panels (bPanelStride = kc·32, bRowStride = 32) or rows of
 * B copied as they are (bPanelStride = 32, bRowStride = the copied row's length in bytes), which
 * spares packing when B is not transposed.
 *
 *   block(ap, bp, cp, kc, mPanels, nPanels, ldc, accumulate, bPanelStride, bRowStride)   addresses, ldc and strides in bytes
 *     for jp in 0 … nPanels−1:
 *       a ← ap;  crow ← cp + 32·jp
 *       for ip in 0 … mPanels−1:
 *         b ← bp + jp·bPanelStride;  c0 … c(2·MR−1) ← 0    row i of the block: c(2i) lanes 0–3, c(2i+1) lanes 4–7
 *         repeat kc times:
 *           b0 ← load b;  b1 ← load b+16
 *           for i in 0 … MR−1:  av ← splat(a[i]);  c(2i) += av·b0;  c(2i+1) += av·b1
 *           a += 4·MR;  b += bRowStride
 *         for i in 0 … MR−1:  row ← crow + i·ldc;  store c(2i) (+ old) at row, c(2i+1) (+ old) at row+16
 *         crow += MR·ldc
 */

/** The exports of the module: its memory and the kernel. */
export interface GemmSimdKernel {
  memory: WebAssembly.Memory;
  /** Rows of a block: the packed panels of A must have this height. */
  mr: WebAssembly.Global;
  block(ap: number, bp: number, cp: number, kc: number, mPanels: number, nPanels: number, ldc: number, accumulate: number, bPanelStride: number, bRowStride: number): void;
}

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];

// The few instructions the kernel uses (opcodes from the WebAssembly core and SIMD specifications).
const I32 = 0x7f, V128 = 0x7b;
const get = (i: number) => [0x20, i], set = (i: number) => [0x21, i], tee = (i: number) => [0x22, i];
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const i32 = (v: number) => [0x41, ...sleb(v)];
const i32Add = [0x6a], i32Sub = [0x6b], i32Mul = [0x6c], i32LtU = [0x49];
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
const ifElse = (then: number[], otherwise: number[]) => [0x04, 0x40, ...then, 0x05, ...otherwise, 0x0b];
const brIf = (depth: number) => [0x0d, depth];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
// memarg: alignment hint 2² (float32 data; a hint only), then the offset.
const v128Load = (offset: number) => simd(0x00, 2, ...uleb(offset));
const v128Load32Splat = (offset: number) => simd(0x09, 2, ...uleb(offset));
const v128Store = (offset: number) => simd(0x0b, 2, ...uleb(offset));
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const f32x4Add = simd(0xe4), f32x4Mul = simd(0xe6);

/**
 * The module for blocks of MR rows × 8 columns (two four-lane registers per row): one memory of
 * one page (grown by the caller), the function `block` and the global `mr`.
 */
export function gemmSimdModule(MR: number): Uint8Array<ArrayBuffer> {
  const ROWS = Array.from({ length: MR }, (_, i) => i);

  // Locals: ten parameters, seven i32 counters and pointers, 2·MR + 3 v128 values.
  const AP = 0, BP = 1, CP = 2, KC = 3, MPANELS = 4, NPANELS = 5, LDC = 6, ACC = 7, BPS = 8, BRS = 9;
  const JP = 10, IP = 11, A = 12, B = 13, P = 14, CROW = 15, ROW = 16;
  const C = 17, B0 = C + 2 * MR, B1 = B0 + 1, AV = B1 + 1; // C … C+2·MR−1: the accumulators

  /** c(2i) += a[i]·b0; c(2i+1) += a[i]·b1 */
  const rowUpdate = (i: number) => [
    ...get(A), ...v128Load32Splat(4 * i), ...set(AV),
    ...get(C + 2 * i), ...get(AV), ...get(B0), ...f32x4Mul, ...f32x4Add, ...set(C + 2 * i),
    ...get(C + 2 * i + 1), ...get(AV), ...get(B1), ...f32x4Mul, ...f32x4Add, ...set(C + 2 * i + 1),
  ];

  /** Row i of the block to memory at ROW: stored, or added to what is there. */
  const storeRow = (i: number, accumulate: boolean) =>
    [0, 1].flatMap((half) => [
      ...get(ROW),
      ...(accumulate ? [...get(ROW), ...v128Load(16 * half), ...get(C + 2 * i + half), ...f32x4Add] : get(C + 2 * i + half)),
      ...v128Store(16 * half),
    ]);

  const storeBlock = (accumulate: boolean) =>
    ROWS.flatMap((i) => [
      ...get(CROW), ...(i ? [...get(LDC), ...i32(i), ...i32Mul, ...i32Add] : []), ...set(ROW),
      ...storeRow(i, accumulate),
    ]);

  const body = [
    ...i32(0), ...set(JP),
    ...loop([
      ...get(AP), ...set(A),
      ...get(CP), ...get(JP), ...i32(32), ...i32Mul, ...i32Add, ...set(CROW),
      ...i32(0), ...set(IP),
      ...loop([
        ...get(BP), ...get(JP), ...get(BPS), ...i32Mul, ...i32Add, ...set(B),
        ...v128Zero, ...ROWS.flatMap((i) => [...tee(C + 2 * i), ...tee(C + 2 * i + 1)]), 0x1a, // drop
        ...get(KC), ...set(P),
        ...loop([
          ...get(B), ...v128Load(0), ...set(B0), ...get(B), ...v128Load(16), ...set(B1),
          ...ROWS.flatMap(rowUpdate),
          ...get(A), ...i32(4 * MR), ...i32Add, ...set(A), ...get(B), ...get(BRS), ...i32Add, ...set(B),
          ...get(P), ...i32(1), ...i32Sub, ...tee(P), ...brIf(0), // kc ≥ 1: the caller never passes 0
        ]),
        ...get(ACC), ...ifElse(storeBlock(true), storeBlock(false)),
        ...get(CROW), ...get(LDC), ...i32(MR), ...i32Mul, ...i32Add, ...set(CROW),
        ...get(IP), ...i32(1), ...i32Add, ...tee(IP), ...get(MPANELS), ...i32LtU, ...brIf(0),
      ]),
      ...get(JP), ...i32(1), ...i32Add, ...tee(JP), ...get(NPANELS), ...i32LtU, ...brIf(0),
    ]),
    0x0b,
  ];
  const code = [...vec([[7, I32], [2 * MR + 3, V128]]), ...body];

  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([[0x60, ...vec(new Array(10).fill([I32])), 0]])), // type: (i32 ×10) → ()
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(5, vec([[0x00, 1]])), // memory: min 1 page, no max
    ...section(6, vec([[I32, 0, ...i32(MR), 0x0b]])), // global 0: MR, immutable
    ...section(7, vec([[...name('memory'), 0x02, 0], [...name('block'), 0x00, 0], [...name('mr'), 0x03, 0]])), // exports
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

/**
 * Rows of the kernel's blocks. 4 (8 accumulators): measured against 6 and 8 in one process on the
 * products of the autoencoder and square ones, 4 was fastest on every shape (V8 keeps fewer values
 * in registers than the 16 of x86-64 would allow); results are the same bits for any MR.
 */
export const GEMM_SIMD_MR = 4;
export const GEMM_SIMD_WASM = gemmSimdModule(GEMM_SIMD_MR);

/**
 * An instance of the kernel, or null where WebAssembly or its SIMD extension is missing (the
 * JavaScript kernel is then used, with the same results).
 */
export function createGemmSimdKernel(bytes: Uint8Array<ArrayBuffer> = GEMM_SIMD_WASM): GemmSimdKernel | null {
  try {
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return null;
    return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as GemmSimdKernel;
  } catch {
    return null;
  }
}
