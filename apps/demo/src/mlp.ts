/**
 * A two-hidden-layer perceptron written directly with tensors (the nn package builds the same
 * thing from layers): parameters are leaves with requiresGrad, the forward pass is three matmuls,
 * and Adam updates the parameters in place under noGrad.
 */
import { Generator, noGrad, randn, zeros, type Tensor } from '@simplex-vq/tensor';

export interface Mlp {
  params: Tensor[];
  forward(x: Tensor): Tensor;
}

export function createMlp(sizes: number[], generator: Generator): Mlp {
  const params: Tensor[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const fanIn = sizes[i]!, fanOut = sizes[i + 1]!;
    // He initialization for ReLU layers: N(0, 2/fanIn).
    params.push(randn([fanIn, fanOut], { generator }).mul(Math.sqrt(2 / fanIn)).requiresGrad_());
    params.push(zeros([fanOut], { requiresGrad: true }));
  }
  return {
    params,
    forward(x) {
      let h = x;
      for (let i = 0; i < params.length; i += 2) {
        h = h.matmul(params[i]!).add(params[i + 1]!);
        if (i + 2 < params.length) h = h.relu();
      }
      return h;
    },
  };
}

/** Mean cross-entropy of logits [n, c] against int32 labels [n]: −mean log softmax(logits)[label]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return logits.logSoftmax(-1).gather(1, labels.unsqueeze(1)).mean().neg();
}

/** Adam (Kingma & Ba), in place on each parameter's data. */
export function createAdam(params: Tensor[], lr: number, betas: [number, number] = [0.9, 0.999], eps = 1e-8) {
  const m = params.map((p) => p.zerosLike());
  const v = params.map((p) => p.zerosLike());
  let t = 0;
  return {
    step() {
      t++;
      noGrad(() => {
        params.forEach((p, i) => {
          if (!p.grad) return;
          m[i] = m[i]!.mul(betas[0]).add(p.grad.mul(1 - betas[0]));
          v[i] = v[i]!.mul(betas[1]).add(p.grad.square().mul(1 - betas[1]));
          const mHat = m[i]!.div(1 - betas[0] ** t);
          const vHat = v[i]!.div(1 - betas[1] ** t);
          p.assign(p.sub(mHat.mul(lr).div(vHat.sqrt().add(eps))));
        });
      });
    },
    zeroGrad() {
      for (const p of params) p.grad = null;
    },
  };
}
