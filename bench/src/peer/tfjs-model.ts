/**
 * The autoencoder of apps/autoencoder written in TensorFlow.js (tfjs-core ops; no tfjs-layers),
 * trained with tf.train.adam, for the peer benchmark. Same layers, sizes, loss and optimizer:
 *
 *   x [B,28,28,1] → conv 4×4/2 pad 1 → ReLU → conv 4×4/2 pad 1 → ReLU → conv 1×1 → z [B,7,7,C]
 *   rows z [N, C] (N = 49B); codebook E [M, C]; τ = exp(logTemperature) (1 here)
 *   logits = −(‖z‖² − 2 z·Eᵀ + ‖E‖²) / τ;  log p = logSoftmax(logits);  q = p E
 *   loss = mean((x̂ − x)²) + β · mean((z − sg(q))²) + λ · L_KNN,   β = 0.25, λ = 1
 *   L_KNN (CE, K nearest per code, one shard) = −1/(M·K) Σ_m Σ_k log p[n(m,k), m]
 *   q [B,7,7,C] → conv 3×3 pad 1 → ReLU → convT 4×4/2 pad 1 → ReLU → convT 4×4/2 pad 1 → sigmoid → x̂
 *
 * TF.js works in NHWC with filters [kh, kw, in, out] (a transposed conv's [kh, kw, out, in]); our
 * weights ([out, in, kh, kw], transposed conv [in, out, kh, kw]) map to both by one transpose
 * [2, 3, 1, 0]. Two TF.js gaps are worked around (both found in issue 8): `topk` has no gradient and
 * batched `gather` has a wrong one, so the K nearest rows of each code are chosen as a one-hot mask
 * built inside tf.customGrad with a zero gradient (the selection carries no gradient, as in
 * simplex-vq's topk), and the selected log-probabilities are mask · log p. sg() is also a customGrad
 * (identity forward, zero gradient): tfjs-core has no stopGradient.
 */
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { MODEL, errorMessage, type RawTensor } from './common.js';

/**
 * Registers TF.js's gradient definitions in Node (see ../tfjs-esm-resolve.ts); null on success,
 * else the error message.
 */
export async function loadTfjsGradients(): Promise<string | null> {
  try {
    register(new URL('../tfjs-esm-resolve.js', import.meta.url));
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    return tf.getGradient('Conv2D') ? null : 'the Conv2D gradient is still not registered';
  } catch (e) {
    return errorMessage(e);
  }
}

/** Our parameter names in the order the model uses them. */
const CONV_LAYERS = ['encoder.0', 'encoder.2', 'encoder.4', 'decoder.0', 'decoder.2', 'decoder.4'] as const;

/** [a, b, kh, kw] (ours) → [kh, kw, b, a] (TF.js), and back with [3, 2, 0, 1]. */
const TO_TF = [2, 3, 1, 0];
const FROM_TF = [3, 2, 0, 1];

/** What tf.customGrad takes (its type is not exported by name). */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

/** Identity with a zero gradient (tf.stopGradient does not exist in tfjs-core). */
const stopGradient = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: () => [tf.zerosLike(x)] })) as CustomGradFunc);

/**
 * For log-probabilities [N, M]: the one-hot mask [N, M] of the K rows with the largest log p in
 * each column (the K nearest quantizers of each vertex under D = CE), with a zero gradient.
 */
function knnMask(k: number) {
  return tf.customGrad(((logp: tf.Tensor) => {
    const value = tf.tidy(() => {
      const [n] = logp.shape as [number, number];
      const { indices } = tf.topk(tf.transpose(logp), k); // [M, K]
      return tf.transpose(tf.sum(tf.oneHot(indices, n), 1)); // [M, K, N] → [M, N] → [N, M]
    });
    return { value, gradFunc: () => [tf.zerosLike(logp)] };
  }) as CustomGradFunc);
}

export interface TfjsModel {
  /** The variables by our parameter names (values in TF.js layouts). */
  vars: Map<string, tf.Variable>;
  /** The loss parts on a batch (forward only; the scalars must be disposed by the caller). */
  parts: (x: tf.Tensor4D) => { loss: tf.Scalar; recon: tf.Scalar; commitment: tf.Scalar; knn: tf.Scalar };
  /** Our layout of a TF.js value of parameter `name` (gradients or weights). */
  toOurs: (name: string, t: tf.Tensor) => Float32Array;
}

/** The model with the weights of `params` (our layouts, from the inputs file). */
export function buildTfjsModel(params: Record<string, RawTensor>): TfjsModel {
  const vars = new Map<string, tf.Variable>();
  for (const [name, p] of Object.entries(params)) {
    if (name === 'quantizer.logTemperature') continue; // a buffer, not trained
    const t = tf.tensor(p.data, p.shape);
    const v = name.endsWith('.weight') ? tf.transpose(t, TO_TF) : name === 'quantizer.codebook' ? tf.reshape(t, [MODEL.codebookSize, MODEL.dim]) : t;
    vars.set(name, tf.variable(v, true, name));
    tf.dispose([t, v]);
  }
  const tau = Math.exp(params['quantizer.logTemperature']!.data[0]!);
  const w = (layer: (typeof CONV_LAYERS)[number]) => vars.get(`${layer}.weight`)! as tf.Tensor4D;
  const b = (layer: (typeof CONV_LAYERS)[number]) => vars.get(`${layer}.bias`)!;
  const codebook = vars.get('quantizer.codebook')! as tf.Tensor2D;
  const mask = knnMask(MODEL.k);
  const { codebookSize: M, dim: C, hidden: h, k: K } = MODEL;

  const parts = (x: tf.Tensor4D) => {
    const B = x.shape[0];
    const h1 = tf.relu(tf.add(tf.conv2d(x, w('encoder.0'), 2, 1), b('encoder.0'))) as tf.Tensor4D;
    const h2 = tf.relu(tf.add(tf.conv2d(h1, w('encoder.2'), 2, 1), b('encoder.2'))) as tf.Tensor4D;
    const z = tf.add(tf.conv2d(h2, w('encoder.4'), 1, 0), b('encoder.4')); // [B, 7, 7, C]
    const rows = tf.reshape(z, [B * 49, C]) as tf.Tensor2D;
    const zz = tf.sum(tf.square(rows), 1, true); // [N, 1]
    const ee = tf.reshape(tf.sum(tf.square(codebook), 1), [1, M]); // [1, M]
    const d2 = tf.add(tf.sub(zz, tf.mul(tf.matMul(rows, codebook, false, true), 2)), ee); // [N, M]
    const logp = tf.logSoftmax(tf.div(tf.neg(d2), tau)) as tf.Tensor2D;
    const q = tf.matMul(tf.exp(logp), codebook); // [N, C]
    const commitment = tf.mean(tf.square(tf.sub(rows, stopGradient(q)))) as tf.Scalar;
    const knn = tf.div(tf.neg(tf.sum(tf.mul(mask(logp), logp))), M * K) as tf.Scalar;
    const d0 = tf.relu(tf.add(tf.conv2d(tf.reshape(q, [B, 7, 7, C]) as tf.Tensor4D, w('decoder.0'), 1, 1), b('decoder.0'))) as tf.Tensor4D;
    const d1 = tf.relu(tf.add(tf.conv2dTranspose(d0, w('decoder.2'), [B, 14, 14, h], 2, 1), b('decoder.2'))) as tf.Tensor4D;
    const xHat = tf.sigmoid(tf.add(tf.conv2dTranspose(d1, w('decoder.4'), [B, 28, 28, 1], 2, 1), b('decoder.4')));
    const recon = tf.mean(tf.square(tf.sub(xHat, x))) as tf.Scalar;
    const loss = tf.add(tf.add(recon, tf.mul(commitment, MODEL.commitment)), tf.mul(knn, MODEL.knnWeight)) as tf.Scalar;
    return { loss, recon, commitment, knn };
  };

  const toOurs = (name: string, t: tf.Tensor): Float32Array =>
    tf.tidy(() => (name.endsWith('.weight') ? tf.transpose(t, FROM_TF) : t).dataSync() as Float32Array).slice();

  return { vars, parts, toOurs };
}

/** An MNIST batch [B, 1, 28, 28] (ours) as NHWC. */
export const toNHWC = (x: RawTensor): tf.Tensor4D =>
  tf.tidy(() => tf.transpose(tf.tensor4d(x.data, x.shape as [number, number, number, number]), [0, 2, 3, 1]));

/** Adam as torch.optim.Adam and ours: betas (0.9, 0.999), eps 1e-8 (TF.js's default eps differs). */
export const makeAdam = () => tf.train.adam(MODEL.lr, 0.9, 0.999, 1e-8);
