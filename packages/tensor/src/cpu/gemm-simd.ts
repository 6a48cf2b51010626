/**
 * The matmul micro-kernel as a tiny WebAssembly module using 128-bit SIMD (f64x2), assembled here
 * from its instructions so the package ships no binary.
 *
 * It does what the inner loop of `gemmRows` does in JavaScript, on the same packed panels and in
 * the same order: for one column panel of B (4 columns) and each row panel of A (4 rows) it sums
 * a·b over k into a 4×4 block, in float64. The products of float32 values are exact in float64
 * and the additions happen in the same order, so its blocks are bit-identical to the JavaScript
 * kernel's (tests check it). What differs is the machine code: V8 compiles the JavaScript kernel to
 * scalar instructions with 16 accumulators that do not all fit in registers, while here the block
 * is 8 two-lane registers: about 3× the multiply-adds per second on the autoencoder's products.
 *
 *   panel(ap, bp, out, kc, mPanels):      byte addresses in the module's memory; panels hold float64
 *     a ← ap
 *     for ip in 0 … mPanels−1:
 *       b ← bp;  c0 … c7 ← 0                          c(2i) = [c_i0, c_i1], c(2i+1) = [c_i2, c_i3]
 *       repeat kc times:
 *         b01 ← load b;  b23 ← load b+16             [b0, b1], [b2, b3]
 *         for i in 0 … 3:  av ← splat(a[i]);  c(2i) += av·b01;  c(2i+1) += av·b23
 *         a += 32;  b += 32
 *       store c0 … c7 at out + 128·ip                the block row-major: c_ij at out + 128·ip + 8·(4i + j)
 */

/** The exports of the module: its memory and the kernel. */
export interface GemmSimdKernel {
  memory: WebAssembly.Memory;
  panel(ap: number, bp: number, out: number, kc: number, mPanels: number): void;
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
const i32Add = [0x6a], i32Sub = [0x6b], i32LtU = [0x49];
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
const brIf = (depth: number) => [0x0d, depth];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128Load = (offset: number) => simd(0x00, 3, ...uleb(offset)); // memarg: alignment 2³, offset
const v128Load64Splat = (offset: number) => simd(0x0a, 3, ...uleb(offset));
const v128Store = (offset: number) => simd(0x0b, 3, ...uleb(offset));
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const f64x2Add = simd(0xf0), f64x2Mul = simd(0xf2);

// Locals: the five parameters, five i32 counters and pointers, eleven v128 values.
const AP = 0, BP = 1, OUT = 2, KC = 3, MPANELS = 4;
const IP = 5, A = 6, B = 7, P = 8, O = 9;
const C = 10, B01 = 18, B23 = 19, AV = 20; // C … C+7: the accumulators c0 … c7

/** c(2i) += a[i]·b01; c(2i+1) += a[i]·b23 */
const rowUpdate = (i: number) => [
  ...get(A), ...v128Load64Splat(8 * i), ...set(AV),
  ...get(C + 2 * i), ...get(AV), ...get(B01), ...f64x2Mul, ...f64x2Add, ...set(C + 2 * i),
  ...get(C + 2 * i + 1), ...get(AV), ...get(B23), ...f64x2Mul, ...f64x2Add, ...set(C + 2 * i + 1),
];

const body = [
  ...i32(0), ...set(IP), ...get(AP), ...set(A), ...get(OUT), ...set(O),
  ...loop([
    ...get(BP), ...set(B),
    ...v128Zero, ...[0, 1, 2, 3, 4, 5, 6].flatMap((i) => tee(C + i)), ...set(C + 7),
    ...get(KC), ...set(P),
    ...loop([
      ...get(B), ...v128Load(0), ...set(B01), ...get(B), ...v128Load(16), ...set(B23),
      ...rowUpdate(0), ...rowUpdate(1), ...rowUpdate(2), ...rowUpdate(3),
      ...get(A), ...i32(32), ...i32Add, ...set(A), ...get(B), ...i32(32), ...i32Add, ...set(B),
      ...get(P), ...i32(1), ...i32Sub, ...tee(P), ...brIf(0), // kc ≥ 1: the caller never passes 0
    ]),
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [...get(O), ...get(C + i), ...v128Store(16 * i)]),
    ...get(O), ...i32(128), ...i32Add, ...set(O),
    ...get(IP), ...i32(1), ...i32Add, ...tee(IP), ...get(MPANELS), ...i32LtU, ...brIf(0),
  ]),
  0x0b,
];
const code = [...vec([[5, I32], [11, V128]]), ...body];

/** The module: one memory of one page (grown by the caller) and the function `panel`. */
export const GEMM_SIMD_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0]])), // type: (i32 ×5) → ()
  ...section(3, vec([[0]])), // function 0 has type 0
  ...section(5, vec([[0x00, 1]])), // memory: min 1 page, no max
  ...section(7, vec([[...name('memory'), 0x02, 0], [...name('panel'), 0x00, 0]])), // exports
  ...section(10, vec([[...uleb(code.length), ...code]])),
]);

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
