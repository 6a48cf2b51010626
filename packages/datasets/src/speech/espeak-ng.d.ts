/** Types for the parts of the `espeak-ng` package (an Emscripten build of the eSpeak NG CLI) used here. */
declare module 'espeak-ng' {
  interface ESpeakNgModule {
    FS: { readFile(path: string): Uint8Array };
  }
  interface ESpeakNgOptions {
    /** The command line, as for `espeak-ng` (without the program name). */
    arguments?: string[];
    print?: (line: string) => void;
    printErr?: (line: string) => void;
    instantiateWasm?: (
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void,
    ) => object;
  }
  /** Runs the CLI once in a new instance; resolves when it has finished. */
  const ESpeakNg: (options?: ESpeakNgOptions) => Promise<ESpeakNgModule>;
  export default ESpeakNg;
}
