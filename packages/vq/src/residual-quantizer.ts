/**
 * Residual vector quantization (Zeghidour et al., 2021, SoundStream, Algorithm 1; Lee et al.,
 * 2022, RQ-VAE; vector-quantize-pytorch's ResidualVQ): Q quantizers in sequence, each quantizing
 * what the previous ones left of the input:
 *
 *   r_0 = z;   q_i = Q_i(r_i);   r_{i+1} = r_i − sg(q_i);   output Σ_i q_i;   loss Σ_i L_i
 *
 * Each row gets Q codes (G·Q with G groups per stage), one from each stage's codebook, so M
 * codes per stage address M^Q points. A stage is any quantizer of this package, built by a
 * factory (`stage(i)`); `shared` builds one and uses it at every stage (one codebook, RQ-VAE's
 * choice). The residual a stage sees is data to it (sg): every stage is trained as if it were
 * alone on its input, and the encoder's gradient through the output is the sum of the stages'
 * gradients to their inputs (each r_i moves with z) — for straight-through stages, (number of
 * stages)·g, as in vector-quantize-pytorch.
 *
 * Quantizer dropout (SoundStream; `quantize_dropout` in vector-quantize-pytorch): in training,
 * each batch uses only the first n stages, n drawn uniformly from [minLevels, Q] by the module's
 * generator, so that the first stages alone learn to reconstruct (a bitrate chosen at inference
 * by keeping fewer codes). The dropped stages' indices are −1 and add nothing. Eval uses all Q.
 *
 * Indices are [..., Q] for one group per stage, [..., Q·G] (stage-major: column i·G + g) for G;
 * `groups` is Q·G and effectiveCodebook() stacks the stages' codebooks, [Q·G, M, C/G], so the
 * usage metrics treat each stage as a group. `decode(indices)` rebuilds the eval output.
 */
import { Generator, ShapeError, cat, defaultGenerator, noGrad, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { ModuleList } from '@simplex-vq/nn';
import { Quantizer, type QuantizerOutput } from './quantizer.js';

export interface ResidualQuantizerOptions {
  /** Channels C of the input. */
  dim: number;
  /** Stages Q. */
  levels: number;
  /** Builds the quantizer of stage i (called once, for i = 0, when `shared`). */
  stage: (level: number) => Quantizer;
  /** One quantizer (one codebook) for every stage (default false: one per stage). */
  shared?: boolean;
  /** Quantizer dropout: in training, a random number of stages per batch (default false). */
  quantizerDropout?: boolean;
  /** With quantizer dropout, the fewest stages a batch uses (default 1). */
  minLevels?: number;
  /** Draws the number of stages under quantizer dropout (default: the global generator). */
  generator?: Generator;
}

export interface ResidualQuantizerOutput extends QuantizerOutput {
  /** Each active stage's own output record, in order (its quantized is q_i; its probs, if any, are here). */
  stages: QuantizerOutput[];
}

export class ResidualQuantizer extends Quantizer {
  readonly levels: number;
  readonly shared: boolean;
  readonly quantizerDropout: boolean;
  readonly minLevels: number;
  /** Groups G of each stage (groups = levels · stageGroups). */
  readonly stageGroups: number;
  /** The distinct stage quantizers: Q of them, or one when shared. */
  declare readonly stages: ModuleList<Quantizer>;
  private readonly generator: Generator;

  constructor(opts: ResidualQuantizerOptions) {
    const { dim, levels } = opts;
    if (!Number.isInteger(levels) || levels < 1) throw new ShapeError('ResidualQuantizer', `levels must be a positive integer, got ${levels}`);
    const shared = opts.shared ?? false;
    const quantizers: Quantizer[] = [];
    for (let i = 0; i < (shared ? 1 : levels); i++) {
      const q = opts.stage(i);
      if (!(q instanceof Quantizer)) throw new ShapeError('ResidualQuantizer', `stage(${i}) must return a Quantizer`);
      const first = quantizers[0] ?? q;
      if (q.dim !== dim) throw new ShapeError('ResidualQuantizer', `stage ${i} quantizes ${q.dim} channels; the input has dim = ${dim}`);
      if (q.codebookSize !== first.codebookSize || q.groups !== first.groups) {
        throw new ShapeError('ResidualQuantizer', `every stage needs the same codes per row: stage 0 has ${first.groups} × ${first.codebookSize}, stage ${i} ${q.groups} × ${q.codebookSize}`);
      }
      if (quantizers.includes(q)) throw new ShapeError('ResidualQuantizer', `stage(${i}) returned the quantizer of an earlier stage; use shared: true to share one`);
      quantizers.push(q);
    }
    const G = quantizers[0]!.groups;
    super({ dim, codebookSize: quantizers[0]!.codebookSize, groups: levels * G }, G);
    this.levels = levels;
    this.shared = shared;
    this.stageGroups = G;
    this.quantizerDropout = opts.quantizerDropout ?? false;
    this.minLevels = opts.minLevels ?? 1;
    if (!Number.isInteger(this.minLevels) || this.minLevels < 1 || this.minLevels > levels) {
      throw new ShapeError('ResidualQuantizer', `minLevels must be an integer in [1, ${levels}], got ${this.minLevels}`);
    }
    this.generator = opts.generator ?? defaultGenerator();
    this.registerModule('stages', new ModuleList(quantizers));
    if (this.quantizerDropout) this.registerGenerator('dropout', this.generator);
  }

  /** The quantizer of stage i. */
  stage(i: number): Quantizer {
    return this.stages.at(this.shared ? 0 : i);
  }

  /** The stages' codebooks stacked, [Q·G, M, C/G] (stage-major, as the index columns). */
  effectiveCodebook(): Tensor {
    return cat(Array.from({ length: this.levels }, (_, i) => this.stage(i).effectiveCodebook()), 0);
  }

  /** How many stages this call uses: all, or in training with quantizer dropout a draw from [minLevels, Q]. */
  private activeLevels(): number {
    if (!this.training || !this.quantizerDropout) return this.levels;
    return this.generator.randint(this.minLevels, this.levels + 1);
  }

  override forward(input: Tensor): ResidualQuantizerOutput {
    const lead = input.shape.slice(0, -1);
    this.rows(input); // checks the channel count
    const G = this.stageGroups, Q = this.levels;
    const n = input.size / this.dim;
    const active = this.activeLevels();
    let residual = input;
    let quantized: Tensor | null = null;
    let loss = zeros([]);
    const stages: QuantizerOutput[] = [];
    const columns: Tensor[] = [];
    const stats: Record<string, number> = {};
    let usage = 0;
    for (let i = 0; i < Q; i++) {
      if (i >= active) {
        columns.push(tensor(new Int32Array(n * G).fill(-1), { shape: [n, G] }));
        continue;
      }
      const out = this.stage(i).forward(residual);
      stages.push(out);
      quantized = quantized ? quantized.add(out.quantized) : out.quantized;
      if (i + 1 < active) residual = residual.sub(out.quantized.detach());
      loss = loss.add(out.loss);
      columns.push(out.indices.reshape([n, G]));
      for (const [k, v] of Object.entries(out.stats)) stats[`stage${i}.${k}`] = v;
      usage += out.stats.batchUsage ?? 0;
    }
    stats.levels = active;
    stats.batchUsage = usage / active;
    const indices = cat(columns, 1).reshape([...lead, Q * G]);
    return { quantized: quantized!, indices, loss, stats, stages };
  }

  /**
   * The output of indices [..., Q·G] in eval: Σ_i of each stage's code, [..., C]. Indices −1
   * (stages dropped by quantizer dropout) add nothing, so the first n columns decode alone.
   */
  decode(indices: Tensor): Tensor {
    const QG = this.groups, G = this.stageGroups, M = this.codebookSize, d = this.groupDim;
    if (indices.ndim < 1 || indices.shape[indices.ndim - 1] !== QG || indices.dtype !== 'int32') {
      throw new ShapeError('ResidualQuantizer.decode', `expects int32 indices [..., ${QG}], got ${indices.dtype} [${indices.shape.join(', ')}]`);
    }
    const lead = indices.shape.slice(0, -1);
    const idx = indices.data();
    const flat = new Int32Array(idx.length), keep = new Float32Array(idx.length);
    for (let r = 0; r < idx.length; r++) {
      const k = idx[r]!;
      if (k < -1 || k >= M) throw new ShapeError('ResidualQuantizer.decode', `code ${k} is out of range for ${M} codes per stage`);
      flat[r] = (r % QG) * M + Math.max(k, 0);
      keep[r] = k < 0 ? 0 : 1;
    }
    const n = idx.length / QG;
    return noGrad(() => {
      const book = this.effectiveCodebook().reshape([QG * M, d]);
      const codes = book.indexSelect(0, tensor(flat, { shape: [flat.length] })).reshape([n, QG, d]).mul(tensor(keep, { shape: [n, QG, 1] }));
      return codes.reshape([n, this.levels, G * d]).sum(1).reshape([...lead, this.dim]);
    });
  }

  override extraRepr(): string {
    return `dim=${this.dim}, levels=${this.levels}, codes=${this.codebookSize}, stageGroups=${this.stageGroups}, shared=${this.shared}, quantizerDropout=${this.quantizerDropout}`;
  }
}
