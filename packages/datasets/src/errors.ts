/** Errors of the datasets package that stop a load (a single bad file is skipped instead, see loadWavFolder). */

/** A data source that cannot be used at all: a folder that is missing, a file, or holds no readable WAV file. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}
