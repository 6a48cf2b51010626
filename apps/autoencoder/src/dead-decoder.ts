/**
 * The measurement behind `--output-bias data` (docs/results/autoencoder.md, "What changed"):
 * trains the autoencoder from PyTorch's default output bias and from logit(mean pixel), same seed
 * and batches, and prints what the decoder does over the first steps — the mean output against
 * the mean pixel, the fraction of the decoder's ReLUs that are on, the output layer's mean logit —
 * and at the end the test MSE beside two references: a black image (E[x²]) and the mean digit.
 *
 *   node apps/autoencoder/dist/dead-decoder.js [method] [steps] [dim]    (default ste 300 32)
 *
 * `init data` for codebook methods, M = 512, batch 32, lr 0.002, seed 0, one thread.
 */
import { Generator, noGrad, type Tensor } from '@simplex-vq/tensor';
import { Adam, ReLU } from '@simplex-vq/nn';
import { Batcher, loadMnist, type ImageSet } from '@simplex-vq/datasets';
import { hasCodebook, isMethod } from '@simplex-vq/vq';
import { useCpuBackend } from '@simplex-vq/app-kit';
import { Autoencoder, meanPixelLogit } from './model.js';
import { batchTensor, evaluate } from './train.js';

/** Mean of a tensor as a number. */
const mean = (t: Tensor) => t.mean().item();

/** The decoder run layer by layer on q: fraction of each ReLU's inputs above 0, and the output logits. */
function decoderTrace(model: Autoencoder, x: Tensor): { reluOn: number[]; logit: number; output: number } {
  return noGrad(() => {
    const z = model.encode(x).permute([0, 2, 3, 1]);
    let h = model.quantizer.forward(z).quantized.permute([0, 3, 1, 2]);
    const reluOn: number[] = [];
    for (const layer of model.decoder.children()) {
      if (layer instanceof ReLU) reluOn.push(mean(h.gt(0).float()));
      h = (layer as { forward(t: Tensor): Tensor }).forward(h);
    }
    return { reluOn, logit: mean(h), output: mean(h.sigmoid()) };
  });
}

/** E[x²] over the test set (the MSE of a black image) and the MSE of the training set's mean digit. */
function references(train: ImageSet, test: ImageSet): { black: number; meanDigit: number } {
  const P = train.height * train.width;
  const avg = new Float64Array(P);
  for (let i = 0; i < train.count * P; i++) avg[i % P]! += train.images[i]! / train.count;
  let black = 0, meanDigit = 0;
  for (let i = 0; i < test.count * P; i++) {
    const v = test.images[i]!;
    black += v * v;
    meanDigit += (v - avg[i % P]!) ** 2;
  }
  return { black: black / (test.count * P), meanDigit: meanDigit / (test.count * P) };
}

async function main(): Promise<void> {
  const [methodArg = 'ste', stepsArg = '300', dimArg = '32'] = process.argv.slice(2);
  if (!isMethod(methodArg)) throw new Error(`unknown method '${methodArg}'`);
  const steps = Number(stepsArg), dim = Number(dimArg);
  await useCpuBackend(1);
  const { train, test } = loadMnist();
  const ref = references(train, test);
  const show = new Set([0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 600].filter((s) => s <= steps));
  console.log(`${methodArg}, C = ${dim}, M = 512, ${steps} steps of batch 32, seed 0; mean pixel ${(1 / (1 + Math.exp(-meanPixelLogit(train)))).toFixed(4)}`);
  console.log(`references on the test set: black image MSE ${ref.black.toFixed(4)} (E[x²]); mean digit MSE ${ref.meanDigit.toFixed(4)}\n`);
  for (const bias of ['default', 'data'] as const) {
    const model = new Autoencoder(
      { method: methodArg, init: hasCodebook(methodArg) ? 'data' : 'none', dim, codebookSize: 512, groups: 1, hidden: 32, k: 1, shards: 1, outputBias: bias === 'data' ? meanPixelLogit(train) : undefined },
      new Generator(0),
    );
    const optimizer = new Adam(model.parameters(), { lr: 0.002 });
    const batcher = new Batcher(train.count, 32, { seed: 0 });
    const probe = batchTensor(test, Array.from({ length: 64 }, (_, i) => i));
    console.log(`output bias '${bias}'`);
    console.log('  step | mean output | decoder ReLUs on (1st, 2nd) | mean output logit | train MSE');
    model.train();
    let recon = NaN;
    for (let step = 0; step <= steps; step++) {
      if (step > 0) {
        const x = batchTensor(train, batcher.next());
        optimizer.zeroGrad();
        const out = model.trainingLoss(x);
        out.loss.backward();
        optimizer.step();
        recon = out.recon.item();
      }
      if (show.has(step)) {
        const t = decoderTrace(model, probe);
        console.log(`  ${String(step).padStart(4)} | ${t.output.toFixed(4).padStart(11)} | ${t.reluOn.map((f) => f.toFixed(3)).join(', ').padStart(27)} | ${t.logit.toFixed(2).padStart(17)} | ${Number.isNaN(recon) ? '—' : recon.toFixed(4)}`);
      }
    }
    model.eval();
    const e = evaluate(model, test, 1000);
    console.log(`  test: MSE ${e.mseHard.toFixed(4)}, code usage ${e.codeUsage.toFixed(3)}\n`);
  }
}

await main();
