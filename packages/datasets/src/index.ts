/**
 * @simplex-vq/datasets — data for the experiments: MNIST (from the `mnist` package), batching, and
 * speech (a synthetic eSpeak NG corpus, WAV folders).
 */
export { MNIST_SIZE, gatherImages, loadMnist, type ImageSet } from './mnist.js';
export { DatasetError } from './errors.js';
export { Batcher, type BatcherOptions, type BatcherState } from './batcher.js';
export {
  DEFAULT_WORDS,
  DIGIT_WORDS,
  ESPEAK_VARIANTS,
  ESPEAK_VOICES,
  SPEECH_SAMPLE_RATE,
  loadWavFolder,
  makeSpeechCorpus,
  normalizeSpeech,
  splitBySpeaker,
  toMono16k,
  checkWav,
  WavError,
  WAV_RATE_RANGE,
  type WavInfo,
  type NormalizeOptions,
  type SkippedFile,
  type SpeakerSplitOptions,
  type SpeechCorpus,
  type SpeechCorpusOptions,
  type SyntheticSpeechCorpus,
  type Utterance,
  type WavFolder,
  type WavFolderOptions,
} from './speech/index.js';
