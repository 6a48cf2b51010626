/**
 * The discrete autoencoder: a small conv encoder from 28×28 digits to a 7×7 grid of C-channel
 * vectors, a quantizer on each of the 49 vectors, and a conv decoder back to 28×28.
 *
 *   x [B,1,28,28] → conv 4×4/2 → ReLU → conv 4×4/2 → ReLU → conv 1×1 → z [B,C,7,7]
 *   z → rows [B·49, C] → quantizer → q → [B,C,7,7]
 *   q → conv 3×3 → ReLU → convT 4×4/2 → ReLU → convT 4×4/2 → sigmoid → x̂ [B,1,28,28]
 */
import { Generator, noGrad, type Tensor } from '@simplex-vq/tensor';
import { Conv2d, ConvTranspose2d, Module, ReLU, Sequential } from '@simplex-vq/nn';
import type { ImageSet } from '@simplex-vq/datasets';
import { createQuantizer, type Method, type MethodOptions, type Quantizer, type QuantizerOutput } from '@simplex-vq/vq';

export interface ModelConfig {
  method: Method;
  /** Codebook initialization (default 'normal', the paper's; 'none' for fsq and lfq). */
  init?: 'data' | 'normal' | 'none';
  /** Std of a 'normal' start (default 1). */
  initStd?: number;
  /** `+restart` methods: the dead-code threshold, rows per batch (default 1). */
  restartThreshold?: number;
  /**
   * Initial bias of the decoder's last layer (a logit), e.g. logit(mean pixel) of the training
   * set; default: PyTorch's U(±1/√fanIn). See Autoencoder.
   */
  outputBias?: number;
  /** Channels C of each latent vector. */
  dim: number;
  codebookSize: number;
  groups: number;
  /** rvq: the residual stages Q (default 4), each an ste quantizer. */
  levels?: number;
  /** Hidden channels of the conv layers. */
  hidden: number;
  k: number;
  shards: number;
  vertexSubset?: number;
}

export interface ForwardResult {
  reconstruction: Tensor;
  quantizer: QuantizerOutput;
}

export interface TrainingLoss extends ForwardResult {
  /** The objective: reconstruction MSE + the quantizer's own loss. */
  loss: Tensor;
  /** Mean squared error of the reconstruction. */
  recon: Tensor;
}

export class Autoencoder extends Module {
  declare readonly encoder: Sequential;
  declare readonly quantizer: Quantizer;
  declare readonly decoder: Sequential;

  constructor(readonly config: ModelConfig, generator: Generator) {
    super();
    const { dim: C, hidden: h } = config;
    const g = { generator };
    this.registerModule('encoder', new Sequential(
      new Conv2d(1, h, 4, { stride: 2, padding: 1, ...g }),
      new ReLU(),
      new Conv2d(h, h, 4, { stride: 2, padding: 1, ...g }),
      new ReLU(),
      new Conv2d(h, C, 1, g),
    ));
    const q: MethodOptions = {
      dim: C,
      codebookSize: config.codebookSize,
      groups: config.groups,
      k: config.k,
      shards: config.shards,
      vertexSubset: config.vertexSubset,
      init: config.init === 'none' ? undefined : config.init,
      initStd: config.initStd,
      restart: config.restartThreshold === undefined ? undefined : { threshold: config.restartThreshold },
      residual: config.levels === undefined ? undefined : { levels: config.levels },
      generator: new Generator(generator.nextUint32()),
    };
    this.registerModule('quantizer', createQuantizer(config.method, q));
    this.registerModule('decoder', new Sequential(
      new Conv2d(C, h, 3, { padding: 1, ...g }),
      new ReLU(),
      new ConvTranspose2d(h, h, 4, { stride: 2, padding: 1, ...g }),
      new ReLU(),
      new ConvTranspose2d(h, 1, 4, { stride: 2, padding: 1, ...g }),
    ));
    // Starting the output at the mean pixel (logit(0.13) ≈ −1.9 instead of sigmoid(0) = 0.5)
    // matters more than it looks: otherwise the first Adam steps all say "darker" and overshoot,
    // driving the output logits to −15 and below within 50 steps, where the sigmoid's slope is
    // ~10⁻³; the reconstruction gradient hardly gets through again and the model keeps drawing a
    // nearly black image (MSE ≈ E[x²] ≈ 0.11) whatever the quantizer. src/dead-decoder.ts measures it.
    if (config.outputBias !== undefined) {
      const last = this.decoder.modules().filter((m) => m instanceof ConvTranspose2d).pop() as ConvTranspose2d;
      noGrad(() => last.bias!.assign(last.bias!.zerosLike().add(config.outputBias!)));
    }
  }

  /** The latent grid z [B, C, 7, 7]. */
  encode(x: Tensor): Tensor {
    return this.encoder.forward(x);
  }

  override forward(x: Tensor): ForwardResult {
    const z = this.encode(x); // [B, C, 7, 7]
    const rows = z.permute([0, 2, 3, 1]); // [B, 7, 7, C]
    const out = this.quantizer.forward(rows);
    const q = out.quantized.permute([0, 3, 1, 2]);
    const reconstruction = this.decoder.forward(q).sigmoid();
    return { reconstruction, quantizer: out };
  }

  /** The training objective on a batch: reconstruction MSE plus the quantizer's loss. */
  trainingLoss(x: Tensor): TrainingLoss {
    const out = this.forward(x);
    const recon = out.reconstruction.sub(x).square().mean();
    return { ...out, recon, loss: recon.add(out.quantizer.loss) };
  }
}

/** logit(mean pixel) of a set of images in [0, 1]: the `outputBias` that starts the decoder at the mean. */
export function meanPixelLogit(set: ImageSet): number {
  let sum = 0;
  for (const v of set.images) sum += v;
  const mu = Math.min(Math.max(sum / set.images.length, 1e-6), 1 - 1e-6);
  return Math.log(mu / (1 - mu));
}
