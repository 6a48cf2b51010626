declare module 'virtual:op-sources' {
  const sources: Record<string, { file: string; line: number; doc: string; snippet: string }>;
  export default sources;
}

interface ImportMetaEnv {
  /** Base URL of the repository's files for source links (see source-links.ts). */
  readonly VITE_SOURCE_BASE_URL?: string;
}
