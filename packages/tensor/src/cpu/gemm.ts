/**
 * The CPU matmul kernel: C = op(A) · op(B) for float32 (or float64) arrays.
 *
 * Layout in the style of GotoBLAS/BLIS, written for a JavaScript JIT:
 *  - A is packed into panels of MR = 4 rows (k-major, 4 values per step), B into panels of
 *    NR columns, so the inner loop reads both sequentially;
 *  - a register block of accumulators is updated per step of k: in JavaScript 4×4 (16 locals,
 *    8 loads for 16 multiply-adds; ~3.5× a plain triple loop);
 *  - k is blocked by KC (≤ 384) so one packed B panel stays in L1 and the packed A block in L2; columns
 *    by NC, which bounds the packed B.
 *
 * Strides describe A and B, so transposed operands cost nothing: element (i, p) of op(A) is
 * a[aOff + i*ars + p*acs]; C is row-major with leading dimension ldc (so a block of columns of C is
 * a valid target). Rows [rowStart, rowEnd) of C are computed; the thread pool gives each thread
 * its own range of rows or of columns.
 *
 * Float32 arithmetic is float32 throughout: every product and every sum is rounded to float32
 * (Math.fround here; the f32x4 instructions of the SIMD kernel), each block of KC values of k is
 * summed from +0 and then added to C. `simd`, where WebAssembly SIMD is available, runs the float32
 * product in the kernel of gemm-simd.ts instead: A packed into its memory in panels of 4 rows, B
 * in panels of 8 columns (or, when B's rows are contiguous, its rows copied as they are), the block
 * of C for all of this call's rows kept there too and copied out row by row at the end of each
 * block of columns, so JavaScript does only the packing. Same operations in the
 * same order: the two give the same bits, and the pool's split of rows or columns changes nothing.
 * Float64 (gradient checks) runs in JavaScript, in float64.
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
  simd: {
    memory: WebAssembly.Memory;
    mr: WebAssembly.Global;
    block(ap: number, bp: number, cp: number, kc: number, mPanels: number, nPanels: number, ldc: number, accumulate: number, bPanelStride: number, bRowStride: number): void;
  } | null = null,
): void {
  // k in blocks of at most 384, of equal size (288 = 1 block, 600 = 2 of 300): a short last
  // block (256 + 32) cost a whole block's overhead for a ninth of the work. Both paths below use
  // the same blocks, which is what keeps their results identical.
  const KC = k <= 384 ? Math.max(k, 1) : Math.ceil(k / Math.ceil(k / 384)), MC = 128;
  if (rowEnd > m) rowEnd = m;
  if (rowEnd <= rowStart) return;
  const f64 = c instanceof Float64Array;
  if (simd && !f64 && k > 0 && n > 0) {
    // --- the WebAssembly SIMD path (float32) ---
    const MR = simd.mr.value as number, NR = 8, MCs = MR * Math.floor(MC / MR);
    const rowsPad = Math.ceil((rowEnd - rowStart) / MR) * MR;
    // Columns per block: all of n up to 512, fewer when the rows are many, so the block of C kept
    // in the kernel's memory stays under 2^21 floats (8 MB).
    const ncMax = Math.min(Math.ceil(n / NR) * NR, Math.max(NR, Math.min(512, Math.floor((1 << 21) / rowsPad / NR) * NR)));
    const kcMax = Math.min(KC, k), mcMax = Math.min(MCs, rowsPad);
    // Memory, in floats: packed A block | packed B block | C block (each a multiple of 4: aligned).
    const apAt = 0, bpAt = mcMax * kcMax, cAt = bpAt + kcMax * (ncMax + NR);
    const bytes = (cAt + rowsPad * ncMax) * 4;
    const have = simd.memory.buffer.byteLength;
    if (have < bytes) simd.memory.grow(Math.ceil((bytes - have) / 65536));
    const heap = new Float32Array(simd.memory.buffer);
    for (let jc = 0; jc < n; jc += ncMax) {
      const nc = Math.min(ncMax, n - jc);
      const nPanels = Math.ceil(nc / NR), ldcBuf = nPanels * NR, ldb = ldcBuf + NR;
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        if (bcs === 1) {
          // B's rows are contiguous: copy each row of the block as it is (a memcpy), zero-padded
          // to whole panels; the kernel reads the panels across the rows. The copied rows are
          // ldb = ldcBuf + 8 floats apart, not ldcBuf: at a power-of-two row length (256, 512
          // floats) the kc rows of one panel fell into 2–4 sets of the L1 cache and evicted each
          // other on every pass of A; one panel's width of slack spreads them over all sets
          // (matmul 512² and 1024² 1.33× and 1.39× faster, docs/results/performance.md change 12).
          for (let p = 0; p < kc; p++) {
            const row = bOff + (pc + p) * brs + jc, o = bpAt + p * ldb;
            heap.set(b.subarray(row, row + nc), o);
            if (nc < ldcBuf) heap.fill(0, o + nc, o + ldcBuf);
          }
        } else {
          // Pack B[pc:pc+kc, jc:jc+nc] into column panels of NR, zero-padded at the right edge.
          // B is transposed here (its columns are contiguous): each column of a whole panel is
          // read in one run and written NR apart; only a partial panel at the edge is gathered.
          for (let jp = 0; jp < nPanels; jp++) {
            const j0 = jc + jp * NR;
            const w = Math.min(NR, n - j0);
            let o = bpAt + jp * kc * NR;
            if (w === NR) {
              for (let jj = 0; jj < NR; jj++) {
                let from = bOff + pc * brs + (j0 + jj) * bcs, to = o + jj;
                for (let p = 0; p < kc; p++, from += brs, to += NR) heap[to] = b[from]!;
              }
              continue;
            }
            for (let p = 0; p < kc; p++) {
              const row = bOff + (pc + p) * brs;
              for (let jj = 0; jj < NR; jj++) heap[o + jj] = jj < w ? b[row + (j0 + jj) * bcs]! : 0;
              o += NR;
            }
          }
        }
        const bPanelStride = bcs === 1 ? NR * 4 : kc * NR * 4, bRowStride = bcs === 1 ? ldb * 4 : NR * 4;
        for (let ic = rowStart; ic < rowEnd; ic += MCs) {
          const mc = Math.min(MCs, rowEnd - ic);
          const mPanels = Math.ceil(mc / MR);
          // Pack A[ic:ic+mc, pc:pc+kc] into row panels of MR, zero-padded at the bottom. When A's
          // rows are contiguous, each row of a whole panel is read in one run, written MR apart.
          for (let ip = 0; ip < mPanels; ip++) {
            const i0 = ic + ip * MR;
            const h = Math.min(MR, ic + mc - i0);
            let o = apAt + ip * kc * MR;
            if (h === MR && acs === 1) {
              for (let ii = 0; ii < MR; ii++) {
                let from = aOff + pc + (i0 + ii) * ars, to = o + ii;
                for (let p = 0; p < kc; p++, from++, to += MR) heap[to] = a[from]!;
              }
              continue;
            }
            for (let p = 0; p < kc; p++) {
              const col = aOff + (pc + p) * acs;
              for (let ii = 0; ii < MR; ii++) heap[o + ii] = ii < h ? a[col + (i0 + ii) * ars]! : 0;
              o += MR;
            }
          }
          simd.block(apAt * 4, bpAt * 4, (cAt + (ic - rowStart) * ldcBuf) * 4, kc, mPanels, nPanels, ldcBuf * 4, pc > 0 ? 1 : 0, bPanelStride, bRowStride);
        }
      }
      for (let i = rowStart; i < rowEnd; i++) {
        const from = cAt + (i - rowStart) * ldcBuf;
        c.set(heap.subarray(from, from + nc), cOff + i * ldc + jc);
      }
    }
    return;
  }
  // --- the JavaScript path ---
  const MR = 4, NR = 4, NC = 2048;
  for (let i = rowStart; i < rowEnd; i++) {
    const base = cOff + i * ldc;
    for (let j = 0; j < n; j++) c[base + j] = 0;
  }
  if (k === 0) return;
  const R = Math.fround;
  // Packing buffers sized to this product (small products are frequent: no fixed-size scratch),
  // in the output's precision.
  const kcMax = Math.min(KC, k);
  const apLen = kcMax * Math.min(MC, Math.ceil((rowEnd - rowStart) / MR) * MR);
  const bpLen = kcMax * Math.ceil(Math.min(NC, n) / NR) * NR;
  const Pack = f64 ? Float64Array : Float32Array;
  const ap = new Pack(apLen), bp = new Pack(bpLen);
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
          for (let jj = 0; jj < NR; jj++) bp[o + jj] = jj < w ? b[row + (j0 + jj) * bcs]! : 0;
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
            for (let ii = 0; ii < MR; ii++) ap[o + ii] = ii < h ? a[col + (i0 + ii) * ars]! : 0;
            o += MR;
          }
        }
        for (let jp = 0; jp < nPanels; jp++) {
          const j0 = jc + jp * NR;
          const w = Math.min(NR, n - j0);
          const bo = jp * kc * NR;
          for (let ip = 0; ip < mPanels; ip++) {
            const i0 = ic + ip * MR;
            const h = Math.min(MR, ic + mc - i0);
            let ao = ip * kc * MR;
            let bq = bo;
            let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
            let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
            let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            if (f64) {
              for (let p = 0; p < kc; p++) {
                const a0 = ap[ao]!, a1 = ap[ao + 1]!, a2 = ap[ao + 2]!, a3 = ap[ao + 3]!;
                const b0 = bp[bq]!, b1 = bp[bq + 1]!, b2 = bp[bq + 2]!, b3 = bp[bq + 3]!;
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                ao += MR;
                bq += NR;
              }
            } else {
              // Float32: each product and each sum rounded, as the SIMD kernel's f32x4 instructions do.
              for (let p = 0; p < kc; p++) {
                const a0 = ap[ao]!, a1 = ap[ao + 1]!, a2 = ap[ao + 2]!, a3 = ap[ao + 3]!;
                const b0 = bp[bq]!, b1 = bp[bq + 1]!, b2 = bp[bq + 2]!, b3 = bp[bq + 3]!;
                c00 = R(c00 + R(a0 * b0)); c01 = R(c01 + R(a0 * b1)); c02 = R(c02 + R(a0 * b2)); c03 = R(c03 + R(a0 * b3));
                c10 = R(c10 + R(a1 * b0)); c11 = R(c11 + R(a1 * b1)); c12 = R(c12 + R(a1 * b2)); c13 = R(c13 + R(a1 * b3));
                c20 = R(c20 + R(a2 * b0)); c21 = R(c21 + R(a2 * b1)); c22 = R(c22 + R(a2 * b2)); c23 = R(c23 + R(a2 * b3));
                c30 = R(c30 + R(a3 * b0)); c31 = R(c31 + R(a3 * b1)); c32 = R(c32 + R(a3 * b2)); c33 = R(c33 + R(a3 * b3));
                ao += MR;
                bq += NR;
              }
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
