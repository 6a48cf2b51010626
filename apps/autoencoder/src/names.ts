/** How the folder of a run is named; apart from compare.ts so that the CLI names one without loading the charts. */

/** The folder of a run: `ste-data-seed0`, `fsq-seed0`, `knn-ce-normal-v0.25-seed1`. */
export function runName(v: { method: string; init: string; vertexSubset?: number }, seed: number): string {
  return [v.method, v.init !== 'none' ? v.init : null, v.vertexSubset ? `v${v.vertexSubset}` : null, `seed${seed}`].filter(Boolean).join('-');
}
