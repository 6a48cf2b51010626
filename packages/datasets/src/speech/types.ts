/** The data types shared by the synthetic corpus and WAV folders. */

/** The sample rate of every utterance. */
export const SPEECH_SAMPLE_RATE = 16000;

export interface Utterance {
  /** Mono samples at 16 kHz, normalized (see `normalizeSpeech`). */
  samples: Float32Array;
  /** The class: the word, the words joined by spaces for a sequence, or the file name's label ('' when none). */
  label: string;
  /** The spoken words (synthetic corpus); `[label]` for a labelled file, `[]` for an unlabelled one. */
  words: string[];
  /** Who speaks: a synthetic speaker (`voice+variant/pPITCH/sSPEED`) or a file's speaker id. */
  speaker: string;
  /** Where it came from: the espeak-ng command line, or the file's path. */
  source?: string;
}

export interface SpeechCorpus {
  utterances: Utterance[];
  sampleRate: typeof SPEECH_SAMPLE_RATE;
  /** The classes: the vocabulary of a synthetic corpus (in its order), or the sorted labels of a folder. */
  labels: string[];
}
