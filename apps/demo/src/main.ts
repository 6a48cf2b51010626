#!/usr/bin/env node
/**
 * simplex-demo: trains a small MLP on a generated two-spirals set with @simplex-vq/tensor and
 * prints the loss as it falls. The whole engine at work in a few dozen lines: tensors, autodiff
 * (loss.backward()), and an optimizer written with tensor ops.
 */
import { parseArgs } from 'node:util';
import { Generator, noGrad } from '@simplex-vq/tensor';
import { createAdam, createMlp, crossEntropy } from './mlp.js';
import { twoSpirals } from './spirals.js';

const HELP = `Usage: simplex-demo [options]

Trains a 2-64-64-2 MLP on a generated two-spirals set and prints the loss as it falls.

Options:
  --steps <n>      training steps, 1 to 10^6 (default 400)
  --lr <x>         Adam learning rate, in (0, 10] (default 0.01)
  --hidden <n>     width of the two hidden layers, 1 to 4096 (default 64)
  --points <n>     training points, 2 to 10^6 (default 512; the test set has the same size)
  --seed <n>       random seed for data and initialization, 0 to 2^31 (default 0)
  -h, --help       show this help
`;

function fail(message: string): never {
  process.stderr.write(`simplex-demo: ${message}\n(see --help)\n`);
  process.exit(2);
}

/** A number option in [lo, hi] (an integer when `integer`); the bounds keep a typo from allocating or running for ever. */
function bounded(name: string, raw: string, integer: boolean, lo: number, hi: number, loOpen = false): number {
  const v = raw.trim() === '' ? NaN : Number(raw);
  const ok = Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && v <= hi && (!integer || Number.isInteger(v));
  if (!ok) fail(`--${name} must be ${integer ? 'an integer' : 'a number'} in ${loOpen ? '(' : '['}${lo}, ${hi}], got '${raw}'`);
  return v;
}

let args;
try {
  args = parseArgs({
    options: {
      steps: { type: 'string', default: '400' },
      lr: { type: 'string', default: '0.01' },
      hidden: { type: 'string', default: '64' },
      points: { type: 'string', default: '512' },
      seed: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  fail((err as Error).message);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const steps = bounded('steps', args.steps, true, 1, 1_000_000);
const lr = bounded('lr', args.lr, false, 0, 10, true);
const hidden = bounded('hidden', args.hidden, true, 1, 4096);
const points = bounded('points', args.points, true, 2, 1_000_000);
const seed = bounded('seed', args.seed, true, 0, 2 ** 31);

const generator = new Generator(seed);
const train = twoSpirals(points, 0.02, generator);
const test = twoSpirals(points, 0.02, generator);
const model = createMlp([2, hidden, hidden, 2], generator);
const adam = createAdam(model.params, lr);

const accuracy = (x = test.x, y = test.y) =>
  noGrad(() => model.forward(x).argmax(1).eq(y).float().mean().item());

console.log(`simplex-demo: ${model.params.reduce((n, p) => n + p.size, 0)} parameters, ${points} training points, ${steps} steps (seed ${seed})`);
const started = performance.now();
for (let step = 1; step <= steps; step++) {
  adam.zeroGrad();
  const loss = crossEntropy(model.forward(train.x), train.y);
  loss.backward();
  adam.step();
  if (step === 1 || step % 25 === 0 || step === steps) {
    const bar = '#'.repeat(Math.round(Math.min(loss.item(), 1) * 40));
    console.log(`step ${String(step).padStart(4)}  loss ${loss.item().toFixed(4)}  ${bar}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`done in ${seconds.toFixed(1)} s (${(steps / seconds).toFixed(0)} steps/s); accuracy: train ${(accuracy(train.x, train.y) * 100).toFixed(1)}%, test ${(accuracy() * 100).toFixed(1)}%`);
