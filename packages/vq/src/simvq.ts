/**
 * SimVQ (Zhu et al., 2024; the `simvq` baseline): the codebook is a frozen random matrix C0 times
 * a learned linear map W, so every code moves whenever W does — even codes no row chose:
 *
 *   E = C0 W;  k = argmin ‖z − E_k‖;  q = z + sg(E_k − z);
 *   loss = ‖sg(z) − E_k‖² (trains W)  + β‖z − sg(E_k)‖²
 *
 * W is a full d×d map, so it learns the scale of the codebook together with its rotation and
 * shear: a separate learned scale s (E = s·C0 W) would be the same family of codebooks (s·W is
 * another W), so there is none. With `init: 'data'`, C0 is set to k-means centres of the first
 * batch and W to the identity, so E starts at the centres and W still moves every code together.
 * A dead code restarted on a row z gets C0_k = z W⁻¹, so that E_k = z. The options of every
 * nearest-code quantizer apply (hard-quantizer.ts); with the orthogonal regularization, its
 * gradient reaches W.
 */
import { Generator, defaultGenerator, randn, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Parameter, init } from '@simplex-vq/nn';
import { HardQuantizer, type HardQuantizerOptions } from './hard-quantizer.js';

export type SimVQOptions = HardQuantizerOptions;

export class SimVQ extends HardQuantizer {
  /** The frozen random basis C0, [G, M, d] (a buffer: saved, never trained). */
  declare readonly basis: Tensor;
  /** The learned map W, [G, d, d]. */
  declare readonly projection: Tensor;
  protected readonly generator: Generator;

  constructor(opts: SimVQOptions) {
    super(opts);
    const generator = opts.generator ?? defaultGenerator();
    this.generator = generator;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    this.registerBuffer('basis', randn([G, M, d], { generator }).mul(this.initStd));
    // As nn.Linear initializes its weight: U(±1/√d).
    this.registerParameter('projection', new Parameter(init.uniform(zeros([G, d, d]), -1 / Math.sqrt(d), 1 / Math.sqrt(d), { generator })));
    if (this.init === 'data' || this.restart) this.registerGenerator('sampler', generator);
  }

  /** C0 W, [G, M, d], differentiable in W. */
  protected codebookEntries(): Tensor {
    return this.basis.matmul(this.projection);
  }

  protected setEntries(values: Tensor, codes?: number[]): void {
    const { groups: G, codebookSize: M, groupDim: d } = this;
    if (!codes) {
      this.basis.assign(values);
      const eye = new Float32Array(G * d * d);
      for (let g = 0; g < G; g++) for (let i = 0; i < d; i++) eye[g * d * d + i * d + i] = 1;
      this.projection.assign(tensor(eye, { shape: [G, d, d] }));
      return;
    }
    // C0_k = z W⁻¹ for each restarted code, with W⁻¹ per group.
    const v = values.data(), W = this.projection.data();
    const basis = this.basis.data().slice();
    const inverses = new Map<number, Float64Array | null>();
    for (const c of codes) {
      const g = Math.floor(c / M);
      if (!inverses.has(g)) inverses.set(g, invert(W.subarray(g * d * d, (g + 1) * d * d), d));
      const inv = inverses.get(g)!;
      for (let j = 0; j < d; j++) {
        let s = 0;
        if (inv) for (let i = 0; i < d; i++) s += v[c * d + i]! * inv[i * d + j]!;
        else s = v[c * d + j]!; // W singular: the row itself (E_k = z W, not z — still a data-driven restart)
        basis[c * d + j] = s;
      }
    }
    this.basis.assign(tensor(basis, { shape: [G, M, d] }));
  }
}

/** The inverse of a d×d row-major matrix by Gauss–Jordan elimination with partial pivoting (float64); null when singular. */
function invert(a: ArrayLike<number>, d: number): Float64Array | null {
  const m = Float64Array.from(a);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let col = 0; col < d; col++) {
    let p = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(m[r * d + col]!) > Math.abs(m[p * d + col]!)) p = r;
    const pivot = m[p * d + col]!;
    if (Math.abs(pivot) < 1e-12) return null;
    if (p !== col) {
      for (let j = 0; j < d; j++) {
        [m[p * d + j], m[col * d + j]] = [m[col * d + j]!, m[p * d + j]!];
        [inv[p * d + j], inv[col * d + j]] = [inv[col * d + j]!, inv[p * d + j]!];
      }
    }
    for (let j = 0; j < d; j++) {
      m[col * d + j] = m[col * d + j]! / pivot;
      inv[col * d + j] = inv[col * d + j]! / pivot;
    }
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = m[r * d + col]!;
      if (f === 0) continue;
      for (let j = 0; j < d; j++) {
        m[r * d + j] = m[r * d + j]! - f * m[col * d + j]!;
        inv[r * d + j] = inv[r * d + j]! - f * inv[col * d + j]!;
      }
    }
  }
  return inv;
}
