import type { BackendInfo } from './backend.js';

export type ViewName = 'simplex' | 'autodiff' | 'autoencoder';

/** One tab of the page. Only the shown view gets frames, so only it trains. */
export interface View {
  readonly name: ViewName;
  readonly title: string;
  readonly element: HTMLElement;
  /** Called at every animation frame while the view is shown. */
  frame(now: number): void;
  /** The backend changed: models are built again on it. */
  onBackend(info: BackendInfo): void;
  /** Figures for tests and for the status line. */
  state(): Record<string, unknown>;
}
