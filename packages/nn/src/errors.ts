/**
 * Errors of the nn package. Each names what it is about: the module attribute, the state-dict key,
 * or the checkpoint file and tensor, so a failed load says which file and which tensor to look at.
 */

/** Misuse of a Module: a bad or duplicate attribute name, a missing submodule. */
export class ModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A state dict that does not fit its module or optimizer: missing or unexpected keys, shapes, dtypes. */
export class StateDictError extends ModuleError {
  constructor(
    message: string,
    /** The offending key, when there is one. */
    readonly key?: string,
  ) {
    super(message);
  }
}

/**
 * A checkpoint or safetensors buffer that cannot be written or read: truncated, corrupt, or not
 * matching the model. The message starts with the file (and the tensor, when one is at fault).
 */
export class CheckpointError extends Error {
  constructor(
    /** The file (or the name given to an in-memory buffer). */
    readonly file: string,
    /** The tensor at fault, when there is one. */
    readonly tensor: string | undefined,
    message: string,
  ) {
    super(`${file}${tensor === undefined ? '' : `: tensor "${tensor}"`}: ${message}`);
    this.name = new.target.name;
  }
}
