/**
 * What the autoencoder view reads, in Node: the MNIST slice (written at build time, parsed in the
 * page) round-trips and stays under 1 MB; a checkpoint of the autoencoder, saved as simplex-ae
 * saves it, is rebuilt from its config and gives the model's own outputs; bad bytes are refused
 * with a message naming the file.
 */
import { Autoencoder } from '@simplex-vq/autoencoder/model';
import { loadMnist } from '@simplex-vq/datasets';
import { serializeCheckpoint } from '@simplex-vq/nn';
import { Generator } from '@simplex-vq/tensor';
import { describe, expect, it } from 'vitest';
import { mnistSliceBytes } from '../build/mnist-slice.js';
import { HELD_OUT, evaluate, loadAutoencoderCheckpoint, pageModelConfig } from '../src/autoencoder-trainer.js';
import { MNIST_SLICE_COUNT, parseMnistSlice } from '../src/mnist-format.js';

const bytes = mnistSliceBytes();
const slice = parseMnistSlice(bytes);

describe('the MNIST slice', () => {
  it('holds the first digits of the training split, under 1 MB', () => {
    expect(bytes.length).toBeLessThan(1e6);
    expect(slice.count).toBe(MNIST_SLICE_COUNT);
    const { train } = loadMnist();
    const pixels = 28 * 28;
    let maxError = 0;
    for (let i = 0; i < slice.count * pixels; i++) maxError = Math.max(maxError, Math.abs(slice.images[i]! - train.images[i]!));
    expect(maxError).toBeLessThanOrEqual(0.5 / 255 + 1e-6); // stored as bytes
    expect(Array.from(slice.labels)).toEqual(Array.from(train.labels.subarray(0, slice.count)));
    expect(new Set(slice.labels.subarray(slice.count - HELD_OUT)).size).toBe(10);
  });

  it('refuses other bytes and cut files', () => {
    expect(() => parseMnistSlice(new Uint8Array(32))).toThrow(/not an MNIST slice/);
    expect(() => parseMnistSlice(bytes.subarray(0, bytes.length - 1))).toThrow(/bytes, expected/);
  });
});

describe('loadAutoencoderCheckpoint', () => {
  it('rebuilds the model from the config in the checkpoint, with its weights', () => {
    const config = { ...pageModelConfig('knn-ce'), codebookSize: 12, hidden: 6 };
    const model = new Autoencoder(config, new Generator(3));
    // What simplex-ae writes: the run's TrainConfig (a superset of the model's) as metadata.
    const saved = serializeCheckpoint({ model, step: 7, config: { ...config, steps: 7, batchSize: 16, lr: 0.002, seed: 3, backend: 'cpu' } });
    const loaded = loadAutoencoderCheckpoint(saved, 'run/checkpoint.safetensors');
    expect(loaded.step).toBe(7);
    expect(loaded.config).toMatchObject({ method: 'knn-ce', codebookSize: 12, hidden: 6, dim: 8 });
    model.eval();
    const mine = evaluate(loaded.model, slice);
    const theirs = evaluate(model, slice);
    expect(Array.from(mine.codes)).toEqual(Array.from(theirs.codes));
    expect(mine.mse).toBe(theirs.mse);
    expect(mine.codes.length).toBe(8 * 49);
    expect(mine.usage.histogram.reduce((a, b) => a + b, 0)).toBe(HELD_OUT * 49);
  });

  it('says what is wrong with a file that is not a simplex-ae checkpoint', () => {
    expect(() => loadAutoencoderCheckpoint(new Uint8Array([1, 2, 3]), 'notes.txt')).toThrow(/notes\.txt/);
    const model = new Autoencoder(pageModelConfig('ste'), new Generator(0));
    expect(() => loadAutoencoderCheckpoint(serializeCheckpoint({ model }), 'bare.safetensors')).toThrow(/bare\.safetensors: no run configuration/);
    expect(() => loadAutoencoderCheckpoint(serializeCheckpoint({ model, config: { ...pageModelConfig('ste'), hidden: 'x' } }), 'odd.safetensors')).toThrow(/no number "hidden"/);
  });
});
