/** Speech data: a synthetic eSpeak NG corpus and WAV folders, both as 16 kHz mono utterances. */
export { SPEECH_SAMPLE_RATE, type SpeechCorpus, type Utterance } from './types.js';
export { WAV_RATE_RANGE, WavError, checkWav, normalizeSpeech, toMono16k, type NormalizeOptions, type WavInfo } from './wav.js';
export { ESPEAK_VARIANTS, ESPEAK_VOICES } from './espeak.js';
export { DEFAULT_WORDS, DIGIT_WORDS, makeSpeechCorpus, type SpeechCorpusOptions, type SyntheticSpeechCorpus } from './synthetic.js';
export { loadWavFolder, type SkippedFile, type WavFolder, type WavFolderOptions } from './folder.js';
export { splitBySpeaker, type SpeakerSplitOptions } from './split.js';
