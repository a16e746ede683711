/**
 * The demo's live per-link display: per WAN interface throughput (gateway counters), link
 * state (the bridge's switch) and per-subflow RTT/state (`ss -ti` on the gateway, subflows to
 * the SOCKS server). Redraws in place on a TTY; prints one line per tick otherwise.
 */
import { Lab, ADDR, IFACES } from './lab';

export interface SubflowView {
  local: string;
  state: string;
  rttMs: number;
  cwnd: number;
}

export function readSubflows(lab: Lab, serverPort: number): SubflowView[] {
  const out = lab.exec('gw', `ss -tinH dst ${ADDR.server} dport = :${serverPort}`, { allowFail: true });
  const res: SubflowView[] = [];
  let cur: SubflowView | undefined;
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    if (!/^\s/.test(line)) {
      const f = line.trim().split(/\s+/);
      cur = { local: f[3]?.replace(/:\d+$/, '').replace(/%.*$/, '') ?? '?', state: f[0] ?? '?', rttMs: NaN, cwnd: 0 };
      res.push(cur);
    } else if (cur) {
      const rtt = / rtt:([\d.]+)\//.exec(line);
      const cw = / cwnd:(\d+)/.exec(line);
      if (rtt) cur.rttMs = Number(rtt[1]);
      if (cw) cur.cwnd = Number(cw[1]);
    }
  }
  return res;
}

interface Sample {
  t: number;
  bytes: Record<string, { rx: number; tx: number }>;
}

export class LiveView {
  private timer?: NodeJS.Timeout;
  private prev?: Sample;
  private drawn = 0;
  private phase = '';
  private progress?: () => string;
  readonly tty = Boolean(process.stdout.isTTY);
  /** Per-interface Mbit/s history, for the summary. */
  readonly history: Array<{ t: number; phase: string; wan1Down: number; wan2Down: number; wan1Up: number; wan2Up: number }> = [];

  constructor(private lab: Lab, private serverPort: number, private intervalMs = 1000) {}

  start(): void {
    this.prev = { t: Date.now(), bytes: this.lab.ifBytes('gw') };
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
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
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.drawn) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private async tick(): Promise<void> {
    let bytes: Sample['bytes'];
    let states: Record<string, boolean>;
    let subs: SubflowView[];
    let now: number;
    try {
      bytes = this.lab.ifBytes('gw');
      now = Date.now(); // the counters' timestamp, before the slower reads below
      states = { isp1: (await this.lab.linkStats('isp1')).on, isp2: (await this.lab.linkStats('isp2')).on };
      subs = readSubflows(this.lab, this.serverPort);
    } catch {
      return; // the lab is going away
    }
    if (!this.timer) return;
    const prev = this.prev ?? { t: now, bytes };
    const dt = Math.max(1, now - prev.t);
    const rate = (dev: string, dir: 'rx' | 'tx'): number => ((bytes[dev]?.[dir] ?? 0) - (prev.bytes[dev]?.[dir] ?? 0)) * 8 / (dt * 1000);
    this.prev = { t: now, bytes };
    const rows: string[] = [];
    const w = { isp1: IFACES.wan1, isp2: IFACES.wan2 } as const;
    const local = { isp1: ADDR.wan1, isp2: ADDR.wan2 } as const;
    const h = { t: now, phase: this.phase, wan1Down: rate(w.isp1, 'rx'), wan2Down: rate(w.isp2, 'rx'), wan1Up: rate(w.isp1, 'tx'), wan2Up: rate(w.isp2, 'tx') };
    this.history.push(h);
    for (const isp of ['isp1', 'isp2'] as const) {
      const mine = subs.filter((s) => s.local === local[isp]);
      const rtts = mine.map((s) => s.rttMs).filter((x) => Number.isFinite(x));
      const rtt = rtts.length ? `${(rtts.reduce((a, b) => a + b, 0) / rtts.length).toFixed(0)} ms` : '-';
      const down = rate(w[isp], 'rx');
      const up = rate(w[isp], 'tx');
      const bar = '#'.repeat(Math.min(30, Math.round(down))).padEnd(30, '.');
      rows.push(
        `${isp} ${states[isp] ? '\x1b[32m UP \x1b[0m' : '\x1b[31mDOWN\x1b[0m'} ${bar} down ${down.toFixed(1).padStart(5)} up ${up.toFixed(1).padStart(5)} Mbit/s  subflows ${String(mine.length).padStart(2)}  rtt ${rtt}`,
      );
    }
    const prog = this.progress ? `  ${this.progress()}` : '';
    if (this.tty) {
      if (this.drawn) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
      const block = [`\x1b[1m${this.phase}\x1b[0m${prog}`, ...rows];
      process.stdout.write(block.join('\n') + '\n');
      this.drawn = block.length;
    } else {
      const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/ [#.]{30} /, ' ');
      process.stdout.write(`   ${rows.map(plain).join(' | ')}${prog}\n`);
    }
  }
}

/** A text plot of per-link download throughput over the run (one column per tick). */
export function sparkPlot(view: LiveView, width = 100): string {
  const h = view.history;
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
