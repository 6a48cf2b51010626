/**
 * The work the gpu.js benchmark times, shared by the Node run (gpujs-bench.ts) and the browser
 * run (gpujs-browser-bench.ts, which loads this file into a page): a square matmul, and one
 * training step of a small conv autoencoder with a smoothed quantizer and the KNN-CE loss.
 * Imports only @simplex-vq/tensor, so it runs anywhere the engine does.
 */
import { Generator, conv2d, convTranspose2d, noGrad, randn, withBackend, type Backend } from '@simplex-vq/tensor';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A training step of the model in the docstring; returns the loss (read back: forces completion). */
export function makeStep(backend: Backend, batch: number) {
  return withBackend(backend, () => {
    const g = new Generator(1);
    const x = randn([batch, 1, 28, 28], { generator: g }).sigmoid();
    const p = {
      w1: randn([16, 1, 4, 4], { generator: g }).mul(0.25).requiresGrad_(),
      w2: randn([16, 16, 4, 4], { generator: g }).mul(0.06).requiresGrad_(),
      codebook: randn([64, 16], { generator: g }).requiresGrad_(),
      w3: randn([16, 16, 4, 4], { generator: g }).mul(0.06).requiresGrad_(),
      w4: randn([16, 1, 4, 4], { generator: g }).mul(0.06).requiresGrad_(),
    };
    const params = Object.values(p);
    return () =>
      withBackend(backend, () => {
        for (const t of params) t.grad = null;
        const h = conv2d(x, p.w1, null, { stride: 2, padding: 1 }).relu();
        const z = conv2d(h, p.w2, null, { stride: 2, padding: 1 }); // [B, 16, 7, 7]
        const rows = z.permute([0, 2, 3, 1]).reshape([-1, 16]);
        const d2 = rows.square().sum(1, true).sub(rows.matmul(p.codebook.mT).mul(2)).add(p.codebook.square().sum(1).unsqueeze(0));
        const logp = d2.neg().logSoftmax(-1);
        const q = logp.exp().matmul(p.codebook).reshape([batch, 7, 7, 16]).permute([0, 3, 1, 2]);
        const y = convTranspose2d(convTranspose2d(q, p.w3, null, { stride: 2, padding: 1 }).relu(), p.w4, null, { stride: 2, padding: 1 }).sigmoid();
        const knn = logp.topk(1, 0).values.neg().mean();
        const loss = y.sub(x).square().mean().add(knn);
        loss.backward();
        noGrad(() => {
          for (const t of params) t.assign(t.sub(t.grad!.mul(0.01)));
        });
        return loss.item();
      });
  });
}

export function matmulRunner(backend: Backend, n: number) {
  return withBackend(backend, () => {
    const g = new Generator(2);
    const a = randn([n, n], { generator: g }), b = randn([n, n], { generator: g });
    return () => withBackend(backend, () => void a.matmul(b).data());
  });
}


/** Median milliseconds of `runs` calls after `warmup` calls. */
export function time(fn: () => void, warmup: number, runs: number): { ms: number; n: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return { ms: median(t), n: runs };
}
