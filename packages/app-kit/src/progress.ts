/**
 * Progress of long work: a cli-progress bar with ETA on a terminal; elsewhere (CI logs, pipes) a
 * plain line at every tenth of the work, so logs stay short but show that the job is alive.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Shows the bar, starting at `from` of the total (a resumed run starts part-way). */
  start(from: number): void;
  /** Moves to `value` and shows the named fields (e.g. `{ loss: '0.123' }`). */
  update(value: number, fields: Record<string, string>): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Names of the fields shown after the bar, in order. */
  fields?: readonly string[];
  /** Where to write; default stderr. */
  stream?: NodeJS.WriteStream;
}

export function progress(label: string, total: number, o: ProgressOptions = {}): Progress {
  const stream = o.stream ?? process.stderr;
  const fields = o.fields ?? [];
  const tail = fields.map((f) => ` | ${f.replace(/([A-Z])/g, ' $1').toLowerCase()} {${f}}`).join('');
  const bar = stream.isTTY
    ? new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}${tail}`, hideCursor: true, etaBuffer: 50, stream },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const blank = Object.fromEntries(fields.map((f) => [f, '–']));
  let lastTenth = -1;
  let active = false;
  const started = performance.now();
  return {
    start(from) {
      active = true;
      bar?.start(total, from, blank);
    },
    update(value, payload) {
      if (!active) this.start(value - 1);
      if (bar) {
        bar.update(value, payload);
        return;
      }
      const tenth = Math.floor((10 * value) / total);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      const seconds = (performance.now() - started) / 1000;
      const shown = fields.map((f) => ` ${f.replace(/([A-Z])/g, ' $1').toLowerCase()} ${payload[f] ?? '–'}`).join('');
      stream.write(`${label} ${value}/${total} (${seconds.toFixed(0)} s)${shown}\n`);
    },
    stop() {
      if (active) bar?.stop();
      active = false;
    },
  };
}
