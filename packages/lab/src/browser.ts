/**
 * One page load in Debian's headless `chromium`, driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`: NUL-terminated JSON, fd 3 to the browser, fd 4 from it), so no
 * npm dependency drives the browser. Every load starts a fresh browser with a fresh profile
 * (an empty `--user-data-dir`): no HTTP cache, no DNS/socket/TLS-session reuse, no preconnect
 * history. The page's names resolve through `--host-resolver-rules` (docs/lab.md, "Page-load
 * benchmark"); every other name fails at once, so the browser's own background traffic never
 * reaches the proxies.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** One resource of the load, from the Resource Timing API (times in ms from navigation start). */
export interface ResourceTiming {
  name: string;
  protocol: string;
  start: number;
  connectStart: number;
  connectEnd: number;
  secureStart: number;
  requestStart: number;
  responseStart: number;
  responseEnd: number;
  bytes: number;
}

export interface PageLoad {
  ok: boolean;
  /** Navigation start to the load event (ms). */
  onloadMs: number;
  /** Navigation start to the first byte of the HTML (ms). */
  ttfbMs: number;
  resources: ResourceTiming[];
  error?: string;
}

export interface BrowserOptions {
  /** `ip netns exec NAME` prefix argv, or [] for the current namespace. */
  prefix: string[];
  /** host -> address, resolved by the browser's own resolver rules (no DNS anywhere). */
  hosts: Record<string, string>;
  /** Base64 SHA-256 SPKI hashes of certificates to accept (the lab CA's leaf key). */
  spkiHashes?: string[];
  timeoutMs?: number;
}

/** The flags of every load: headless, fresh profile, no background networking of its own. */
export function chromiumArgs(profileDir: string, o: BrowserOptions): string[] {
  const rules = [...Object.entries(o.hosts).map(([h, a]) => `MAP ${h} ${a}`), 'MAP * ~NOTFOUND'].join(', ');
  return [
    '--headless=new',
    '--no-sandbox',
    '--remote-debugging-pipe',
    `--user-data-dir=${profileDir}`,
    `--host-resolver-rules=${rules}`,
    ...(o.spkiHashes?.length ? [`--ignore-certificate-errors-spki-list=${o.spkiHashes.join(',')}`] : []),
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-default-apps',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
    '--no-pings',
    '--disable-gpu',
    '--mute-audio',
    'about:blank',
  ];
}

/** The DevTools protocol over the pipe: commands with ids, events by method (flattened sessions). */
class CdpPipe {
  private nextId = 1;
  private buf = Buffer.alloc(0);
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: Array<{ method: string; sessionId?: string; fn: (params: unknown) => void }> = [];

  constructor(private readonly out: Writable, inp: Readable) {
    inp.on('data', (d: Buffer) => this.onData(d));
    inp.on('error', () => undefined);
    out.on('error', () => undefined);
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    let i: number;
    while ((i = this.buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(this.buf.subarray(0, i).toString('utf8')) as {
        id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown; sessionId?: string;
      };
      this.buf = this.buf.subarray(i + 1);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) if (l.method === msg.method && (l.sessionId === undefined || l.sessionId === msg.sessionId)) l.fn(msg.params);
      }
    }
  }

  send<T>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.nextId++;
    this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  once(method: string, sessionId?: string): Promise<unknown> {
    return new Promise((resolve) => {
      const l = { method, sessionId, fn: (p: unknown) => { this.listeners.splice(this.listeners.indexOf(l), 1); resolve(p); } };
      this.listeners.push(l);
    });
  }

  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** What the page reports about itself once loaded (runs in the page). */
const TIMINGS_JS = `JSON.stringify((() => {
  const n = performance.getEntriesByType('navigation')[0];
  const r = performance.getEntriesByType('resource').map((e) => ({
    name: e.name, protocol: e.nextHopProtocol, start: e.startTime, connectStart: e.connectStart, connectEnd: e.connectEnd,
    secureStart: e.secureConnectionStart, requestStart: e.requestStart, responseStart: e.responseStart,
    responseEnd: e.responseEnd, bytes: e.encodedBodySize }));
  return { onload: n ? n.loadEventStart : -1, ttfb: n ? n.responseStart : -1, resources: r };
})())`;

/** The browser runs in its own process group: end it and its helpers (renderer, utility processes) together. */
async function stopBrowser(proc: ChildProcess): Promise<void> {
  const group = (sig: NodeJS.Signals): void => {
    try {
      if (proc.pid) process.kill(-proc.pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    group('SIGTERM');
    const t = setTimeout(() => group('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }
  group('SIGKILL');
}

/** Load `url` once in a fresh browser with a fresh profile; resolves when the load event fired. */
export async function loadPage(url: string, o: BrowserOptions): Promise<PageLoad> {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rts-chromium-'));
  const argv = ['chromium', ...chromiumArgs(profileDir, o)];
  const [cmd, ...rest] = [...o.prefix, ...argv];
  const proc = spawn(cmd, rest, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const cdp = new CdpPipe(proc.stdio[3] as Writable, proc.stdio[4] as Readable);
  proc.once('exit', () => cdp.failAll(new Error(`chromium exited: ${stderr.trim().split('\n').pop() ?? ''}`)));
  const timeoutMs = o.timeoutMs ?? 60000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = async (): Promise<PageLoad> => {
      const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
      await cdp.send('Page.enable', {}, sessionId);
      const loaded = cdp.once('Page.loadEventFired', sessionId);
      const nav = await cdp.send<{ errorText?: string }>('Page.navigate', { url }, sessionId);
      if (nav.errorText) return { ok: false, onloadMs: NaN, ttfbMs: NaN, resources: [], error: nav.errorText };
      await loaded;
      const r = await cdp.send<{ result: { value: string } }>('Runtime.evaluate', { expression: TIMINGS_JS, returnByValue: true }, sessionId);
      const v = JSON.parse(r.result.value) as { onload: number; ttfb: number; resources: ResourceTiming[] };
      return { ok: v.onload > 0, onloadMs: v.onload, ttfbMs: v.ttfb, resources: v.resources };
    };
    const timeout = new Promise<PageLoad>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, onloadMs: NaN, ttfbMs: NaN, resources: [], error: `no load event within ${timeoutMs} ms` }), timeoutMs);
    });
    return await Promise.race([run(), timeout]);
  } catch (e) {
    return { ok: false, onloadMs: NaN, ttfbMs: NaN, resources: [], error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
    await stopBrowser(proc);
    fs.rmSync(profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}
