/**
 * The demo's live per-link display: `mptcp-gateway status --watch` (redsocks-ts'
 * gateway/status.ts, one implementation) fed from the lab gateway's redsocks-ts metrics
 * endpoint, with the demo's phase on top. Redraws in place on a TTY; one line per tick otherwise.
 * Needs redsocks-ts with `metrics_port` (LAB_METRICS_PORT, see pairs.ts); with the C pair there
 * is no endpoint and only the phases are printed.
 */
import { StatusWatch, renderStatus, renderStatusLine, pathRates } from 'redsocks-ts';
import type { Lab } from './lab';

/** The port redsocks-ts' metrics listen on in the lab (on the gateway's loopback). */
export const LAB_METRICS_PORT = 9101;

export class LiveView {
  private watch?: StatusWatch;
  private drawn = 0;
  private phase = '';
  private progress?: () => string;
  private errorShown = false;
  readonly tty = Boolean(process.stdout.isTTY);
  /** Per-path Mbit/s history, for the summary. */
  readonly history: Array<{ t: number; phase: string; wan1Down: number; wan2Down: number; wan1Up: number; wan2Up: number }> = [];

  constructor(private lab: Lab, private metricsPort = LAB_METRICS_PORT, private intervalMs = 1000) {}

  /** The gateway's metrics text, scraped inside its namespace. */
  scrape(): Promise<string> {
    return Promise.resolve(this.lab.exec('gw', `curl -sS --max-time 2 http://127.0.0.1:${this.metricsPort}/metrics`));
  }

  start(): void {
    this.watch = new StatusWatch({ gateway: () => this.scrape() }, (cur, prev) => {
      const r = pathRates(cur, prev);
      // a path is named isp1/isp2 by fixed `paths`, wan1/wan2 (its interface) by `paths = auto`
      const v = (isp: 1 | 2, k: 'downMbit' | 'upMbit'): number => (r.get(`isp${isp}`) ?? r.get(`wan${isp}`))?.[k] ?? NaN;
      this.history.push({ t: cur.t, phase: this.phase, wan1Down: v(1, 'downMbit'), wan2Down: v(2, 'downMbit'), wan1Up: v(1, 'upMbit'), wan2Up: v(2, 'upMbit') });
      const prog = this.progress ? `  ${this.progress()}` : '';
      if (this.tty) {
        if (this.drawn) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
        const block = [`\x1b[1m${this.phase}\x1b[0m${prog}`, ...renderStatus(cur, prev, { color: true })];
        process.stdout.write(block.join('\n') + '\n');
        this.drawn = block.length;
      } else {
        process.stdout.write(`   ${renderStatusLine(cur, prev)}${prog}\n`);
      }
    }, (e) => {
      if (this.errorShown) return;
      this.errorShown = true;
      this.log(`   (no live view: ${e.message.split('\n')[0]})`);
    }, this.intervalMs);
    this.watch.start();
  }

  setPhase(phase: string, progress?: () => string): void {
    this.phase = phase;
    this.progress = progress;
    if (!this.tty) process.stdout.write(`-- ${phase}\n`);
  }

  /** Print a line above the live block (keeps the block at the bottom on a TTY). */
  log(line: string): void {
    if (this.tty && this.drawn) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
    process.stdout.write(line + '\n');
  }

  stop(): void {
    this.watch?.stop();
    this.watch = undefined;
    if (this.tty && this.drawn) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }
}

/** A text plot of per-link download throughput over the run (one column per tick). */
export function sparkPlot(view: LiveView, width = 100): string {
  const h = view.history.map((x) => ({ ...x, wan1Down: Number.isFinite(x.wan1Down) ? x.wan1Down : 0, wan2Down: Number.isFinite(x.wan2Down) ? x.wan2Down : 0 }));
  if (h.length < 2) return '';
  const step = Math.max(1, Math.ceil(h.length / width));
  const cols: Array<{ a: number; b: number; phase: string }> = [];
  for (let i = 0; i < h.length; i += step) {
    const slice = h.slice(i, i + step);
    const avg = (f: (x: (typeof h)[number]) => number): number => slice.reduce((s, x) => s + f(x), 0) / slice.length;
    cols.push({ a: avg((x) => x.wan1Down), b: avg((x) => x.wan2Down), phase: slice[0].phase });
  }
  const max = Math.max(1, ...cols.map((c) => Math.max(c.a, c.b)));
  const bars = ' ▁▂▃▄▅▆▇█';
  const line = (f: (c: (typeof cols)[number]) => number): string =>
    cols.map((c) => bars[Math.min(8, Math.round((f(c) / max) * 8))]).join('');
  // Mark where each phase starts.
  let marks = '';
  let last = '';
  let n = 0;
  const legend: string[] = [];
  for (const c of cols) {
    if (c.phase !== last) {
      last = c.phase;
      const tag = String.fromCharCode(97 + (n++ % 26));
      marks += tag;
      legend.push(`${tag} = ${c.phase}`);
    } else marks += ' ';
  }
  return [
    `download throughput per link over the run (full scale ${max.toFixed(0)} Mbit/s, ${step} s per column)`,
    `isp1 |${line((c) => c.a)}|`,
    `isp2 |${line((c) => c.b)}|`,
    `      ${marks}`,
    ...legend.map((l) => `      ${l}`),
  ].join('\n');
}
