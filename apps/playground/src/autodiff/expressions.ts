/**
 * The expressions the autodiff view draws. Each builds its graph with the engine's ops on the
 * tensors it is given (the leaves, by name), so "apply an SGD step" can build it again from
 * updated leaves. `code` is what the page shows; it is the body of `build`, written out.
 */
import { tensor, type Tensor } from '@simplex-vq/tensor';

export interface Leaf {
  name: string;
  values: number[];
  shape: number[];
  /** Parameters get gradients; inputs and targets do not. */
  requiresGrad: boolean;
}

export interface Expression {
  id: string;
  title: string;
  /** A sentence for the learner. */
  about: string;
  code: string;
  leaves: Leaf[];
  /** The loss (a scalar); intermediate tensors carry names for the drawing. */
  build(t: Record<string, Tensor>): Tensor;
}

const named = (t: Tensor, name: string): Tensor => {
  t.name = name;
  return t;
};

export const EXPRESSIONS: Expression[] = [
  {
    id: 'neuron',
    title: 'one neuron',
    about: 'A neuron with two inputs and a tanh, and a squared error. Step backward and watch ∂loss/∂w arrive through tanh (whose local derivative is 1 − y²) and the sum.',
    code: `const z = x.mul(w).sum().add(b);   // w·x + b
const y = z.tanh();
const loss = y.sub(1).square();     // (y − 1)²`,
    leaves: [
      { name: 'x', values: [1.5, -0.5], shape: [2], requiresGrad: false },
      { name: 'w', values: [0.8, -1.2], shape: [2], requiresGrad: true },
      { name: 'b', values: [0.3], shape: [], requiresGrad: true },
    ],
    build: ({ x, w, b }) => {
      const z = named(x!.mul(w!).sum().add(b!), 'z');
      const y = named(z.tanh(), 'y');
      return named(y.sub(1).square(), 'loss');
    },
  },
  {
    id: 'smoothed',
    title: 'a smoothed quantizer (M = 3)',
    about: 'One encoder output z and a codebook E of 3 codes: p = softmax(−‖z − e_m‖²/τ) is a point of the triangle of the simplex view; q = pE is the soft code. The loss is the reconstruction ‖q − z‖² plus a KNN-CE-like term −log p_3 pulling p toward vertex 3.',
    code: `const d = z.sub(E).square().sum(1);       // ‖z − e_m‖², [3]
const p = d.neg().div(0.5).softmax(-1);   // τ = 0.5
const q = p.reshape([1, 3]).matmul(E);    // soft code, [1, 2]
const rec = q.sub(z).square().sum();
const ce = p.log().mul(onehot).sum().neg();  // −log p_3
const loss = rec.add(ce.mul(0.5));`,
    leaves: [
      { name: 'z', values: [0.4, 0.9], shape: [1, 2], requiresGrad: true },
      { name: 'E', values: [0, 0, 1, 0, 0.5, 1], shape: [3, 2], requiresGrad: true },
      { name: 'onehot', values: [0, 0, 1], shape: [3], requiresGrad: false },
    ],
    build: ({ z, E, onehot }) => {
      const d = named(z!.sub(E!).square().sum(1), 'd');
      const p = named(d.neg().div(0.5).softmax(-1), 'p');
      const q = named(p.reshape([1, 3]).matmul(E!), 'q');
      const rec = named(q.sub(z!).square().sum(), 'rec');
      const ce = named(p.log().mul(onehot!).sum().neg(), 'ce');
      return named(rec.add(ce.mul(0.5)), 'loss');
    },
  },
  {
    id: 'mlp',
    title: 'a tiny MLP on XOR',
    about: 'Four points, a hidden layer of 3 ReLUs and a mean squared error. The mean is a sum, a reshape and a division: the graph shows what the engine records. Apply SGD steps and watch the loss fall.',
    code: `const h = X.matmul(W1).add(b1).relu();   // [4, 3]
const out = h.matmul(W2).add(b2);        // [4, 1]
const loss = out.sub(Y).square().mean();`,
    leaves: [
      { name: 'X', values: [0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2], requiresGrad: false },
      { name: 'W1', values: [0.5, -0.6, 0.9, 0.7, 0.8, -0.5], shape: [2, 3], requiresGrad: true },
      { name: 'b1', values: [0.1, 0.05, -0.1], shape: [3], requiresGrad: true },
      { name: 'W2', values: [0.8, -0.7, 0.6], shape: [3, 1], requiresGrad: true },
      { name: 'b2', values: [0.05], shape: [1], requiresGrad: true },
      { name: 'Y', values: [0, 1, 1, 0], shape: [4, 1], requiresGrad: false },
    ],
    build: ({ X, W1, b1, W2, b2, Y }) => {
      const h = named(X!.matmul(W1!).add(b1!).relu(), 'h');
      const out = named(h.matmul(W2!).add(b2!), 'out');
      return named(out.sub(Y!).square().mean(), 'loss');
    },
  },
];

/** The leaves as tensors (on the current backend), named, with the given values where present. */
export function makeLeaves(e: Expression, values: Record<string, number[]> = {}): Record<string, Tensor> {
  return Object.fromEntries(
    e.leaves.map((l) => {
      const t = tensor(Float32Array.from(values[l.name] ?? l.values), { shape: l.shape, requiresGrad: l.requiresGrad });
      t.name = l.name;
      return [l.name, t];
    }),
  );
}
