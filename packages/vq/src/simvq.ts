/**
 * SimVQ (Zhu et al., 2024; the `simvq` baseline): the codebook is a frozen random matrix C0 times
 * a learned linear map W, so every code moves whenever W does — even codes no row chose:
 *
 *   E = C0 W;  k = argmin ‖z − E_k‖;  q = z + sg(E_k − z);
 *   loss = ‖sg(z) − E_k‖² (trains W)  + β‖z − sg(E_k)‖²
 *
 * With `init: 'data'`, C0 is set to k-means centres of the first batch and W to the identity, so E
 * starts at the centres and W still moves every code together. A dead code restarted on a row z
 * gets C0_k = z W⁻¹, so that E_k = z.
 */
import { Generator, defaultGenerator, noGrad, randn, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Parameter, init } from '@simplex-vq/nn';
import { CodebookQuantizer, type CodebookOptions } from './codebook.js';
import { squaredDistances, type QuantizerOutput } from './quantizer.js';

export interface SimVQOptions extends CodebookOptions {
  /** Commitment weight β (default 0.25). */
  commitment?: number;
  generator?: Generator;
}

export class SimVQ extends CodebookQuantizer {
  /** The frozen random basis C0, [G, M, d] (a buffer: saved, never trained). */
  declare readonly basis: Tensor;
  /** The learned map W, [G, d, d]. */
  declare readonly projection: Tensor;
  readonly commitment: number;
  protected readonly generator: Generator;

  constructor(opts: SimVQOptions) {
    super(opts);
    const generator = opts.generator ?? defaultGenerator();
    this.generator = generator;
    this.commitment = opts.commitment ?? 0.25;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    this.registerBuffer('basis', randn([G, M, d], { generator }).mul(this.initStd));
    // As nn.Linear initializes its weight: U(±1/√d).
    this.registerParameter('projection', new Parameter(init.uniform(zeros([G, d, d]), -1 / Math.sqrt(d), 1 / Math.sqrt(d), { generator })));
    if (this.init === 'data' || this.restart) this.registerGenerator('sampler', generator);
  }

  effectiveCodebook(): Tensor {
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

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const z = this.rows(input);
    const zg = this.split(z);
    this.initFromData(zg);
    const nearest = () => noGrad(() => squaredDistances(zg.detach(), this.effectiveCodebook()).argmin(-1));
    let idx = nearest();
    if (this.reviveDeadCodes(zg, idx)) idx = nearest();
    const codebook = this.effectiveCodebook(); // [G, M, d], differentiable in W
    const e = this.lookup(codebook, idx);
    const commit = zg.sub(e.detach()).square().mean();
    const codebookLoss = zg.detach().sub(e).square().mean();
    const loss = codebookLoss.add(commit.mul(this.commitment));
    const q = zg.add(e.sub(zg).detach());
    return {
      quantized: this.merge(q).reshape(input.shape),
      indices: this.shapeIndices(idx, lead),
      loss,
      stats: { commitment: commit.item(), codebook: codebookLoss.item(), batchUsage: this.batchUsage(idx) },
    };
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
