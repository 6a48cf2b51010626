/**
 * The CPU matmul kernel: C = op(A) · op(B) for float32 (or float64) arrays.
 *
 * Layout in the style of GotoBLAS/BLIS, written for a JavaScript JIT:
 *  - A is packed into panels of MR = 4 rows (k-major, 4 values per step), B into panels of
 *    NR = 4 columns, so the inner loop reads both sequentially;
 *  - a 4×4 register block of accumulators (16 locals) is updated per step of k: 8 loads for
 *    16 multiply-adds. Measured here, this is ~3.5× a plain triple loop;
 *  - k is blocked by KC so one packed B panel stays in L1 and the packed A block in L2; columns
 *    by NC, which bounds the packed B.
 *
 * Strides describe A and B, so transposed operands cost nothing: element (i, p) of op(A) is
 * a[aOff + i*ars + p*acs]; C is row-major with leading dimension ldc (so a block of columns of C is
 * a valid target). Rows [rowStart, rowEnd) of C are computed; the thread pool gives each thread
 * its own range of rows or of columns.
 *
 * `simd`, where WebAssembly SIMD is available, runs the inner loop (one column panel of B against
 * every row panel of A) in the kernel of gemm-simd.ts instead, on panels packed in its memory as
 * float64: same arithmetic in the same order, so bit-identical results, about 3× faster. Columns
 * are blocked by NC so the packed B fits that memory whatever n is.
 *
 * This function must stay self-contained (no imports, no closures): the thread pool ships its
 * source text to worker threads with `Function.prototype.toString`.
 */
export function gemmRows(
  m: number, n: number, k: number,
  a: Float32Array | Float64Array, aOff: number, ars: number, acs: number,
  b: Float32Array | Float64Array, bOff: number, brs: number, bcs: number,
  c: Float32Array | Float64Array, cOff: number, ldc: number,
  rowStart: number, rowEnd: number,
  simd: { memory: WebAssembly.Memory; panel(ap: number, bp: number, out: number, kc: number, mPanels: number): void } | null = null,
): void {
  const MR = 4, NR = 4, KC = 256, MC = 128, NC = 2048;
  if (rowEnd > m) rowEnd = m;
  for (let i = rowStart; i < rowEnd; i++) {
    const base = cOff + i * ldc;
    for (let j = 0; j < n; j++) c[base + j] = 0;
  }
  if (k === 0 || rowEnd <= rowStart) return;
  // Packing buffers sized to this product (small products are frequent: no fixed-size scratch).
  // The JavaScript kernel reads panels in the output's precision: float32 panels halve the memory
  // traffic, which measured 10-15% faster with two threads. The SIMD kernel reads float64 panels
  // in its own memory, followed by room for the 4×4 blocks of one column panel.
  const kcMax = Math.min(KC, k);
  const apLen = kcMax * Math.min(MC, Math.ceil((rowEnd - rowStart) / MR) * MR);
  const bpLen = kcMax * Math.ceil(Math.min(NC, n) / NR) * NR;
  let ap: Float32Array | Float64Array, bp: Float32Array | Float64Array, heap: Float64Array | null = null;
  if (simd) {
    const bytes = (apLen + bpLen + MC * NR) * 8;
    const have = simd.memory.buffer.byteLength;
    if (have < bytes) simd.memory.grow(Math.ceil((bytes - have) / 65536));
    heap = new Float64Array(simd.memory.buffer);
    ap = heap.subarray(0, apLen);
    bp = heap.subarray(apLen, apLen + bpLen);
  } else {
    const Pack = c instanceof Float64Array ? Float64Array : Float32Array;
    ap = new Pack(apLen);
    bp = new Pack(bpLen);
  }
  const blocks = apLen + bpLen; // where the SIMD kernel writes its blocks (in float64 elements)
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    const nPanels = Math.ceil(nc / NR);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      // Pack B[pc:pc+kc, jc:jc+nc] into column panels of width NR, zero-padded at the right edge.
      for (let jp = 0; jp < nPanels; jp++) {
        const j0 = jc + jp * NR;
        const w = Math.min(NR, n - j0);
        let o = jp * kc * NR;
        for (let p = 0; p < kc; p++) {
          const row = bOff + (pc + p) * brs;
          for (let jj = 0; jj < NR; jj++) bp[o + jj] = jj < w ? b[row + (j0 + jj) * bcs] : 0;
          o += NR;
        }
      }
      for (let ic = rowStart; ic < rowEnd; ic += MC) {
        const mc = Math.min(MC, rowEnd - ic);
        const mPanels = Math.ceil(mc / MR);
        // Pack A[ic:ic+mc, pc:pc+kc] into row panels of height MR, zero-padded at the bottom.
        for (let ip = 0; ip < mPanels; ip++) {
          const i0 = ic + ip * MR;
          const h = Math.min(MR, ic + mc - i0);
          let o = ip * kc * MR;
          for (let p = 0; p < kc; p++) {
            const col = aOff + (pc + p) * acs;
            for (let ii = 0; ii < MR; ii++) ap[o + ii] = ii < h ? a[col + (i0 + ii) * ars] : 0;
            o += MR;
          }
        }
        for (let jp = 0; jp < nPanels; jp++) {
          const j0 = jc + jp * NR;
          const w = Math.min(NR, n - j0);
          const bo = jp * kc * NR;
          if (heap) {
            // One call for the whole column panel, then each block added into C as below.
            simd!.panel(0, (apLen + bo) * 8, blocks * 8, kc, mPanels);
            for (let ip = 0; ip < mPanels; ip++) {
              const i0 = ic + ip * MR;
              const h = Math.min(MR, ic + mc - i0);
              const r0 = cOff + i0 * ldc + j0, q = blocks + ip * MR * NR;
              for (let ii = 0; ii < h; ii++) {
                for (let jj = 0; jj < w; jj++) c[r0 + ii * ldc + jj] += heap[q + ii * NR + jj]!;
              }
            }
            continue;
          }
          for (let ip = 0; ip < mPanels; ip++) {
            const i0 = ic + ip * MR;
            const h = Math.min(MR, ic + mc - i0);
            let ao = ip * kc * MR;
            let bq = bo;
            let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
            let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
            let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (let p = 0; p < kc; p++) {
              const a0 = ap[ao], a1 = ap[ao + 1], a2 = ap[ao + 2], a3 = ap[ao + 3];
              const b0 = bp[bq], b1 = bp[bq + 1], b2 = bp[bq + 2], b3 = bp[bq + 3];
              c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
              c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
              c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
              c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
              ao += MR;
              bq += NR;
            }
            const r0 = cOff + i0 * ldc + j0;
            if (h === MR && w === NR) {
              const r1 = r0 + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
              c[r0] += c00; c[r0 + 1] += c01; c[r0 + 2] += c02; c[r0 + 3] += c03;
              c[r1] += c10; c[r1 + 1] += c11; c[r1 + 2] += c12; c[r1 + 3] += c13;
              c[r2] += c20; c[r2 + 1] += c21; c[r2 + 2] += c22; c[r2 + 3] += c23;
              c[r3] += c30; c[r3 + 1] += c31; c[r3 + 2] += c32; c[r3 + 3] += c33;
            } else {
              // Edge block: write only the h×w valid part.
              const blk = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
              for (let ii = 0; ii < h; ii++) {
                for (let jj = 0; jj < w; jj++) c[r0 + ii * ldc + jj] += blk[ii * 4 + jj]!;
              }
            }
          }
        }
      }
    }
  }
}
