/**
 * @simplex-vq/datasets — data for the experiments: MNIST (from the `mnist` package) and batching.
 */
export { MNIST_SIZE, gatherImages, loadMnist, type ImageSet } from './mnist.js';
export { Batcher, type BatcherOptions, type BatcherState } from './batcher.js';
