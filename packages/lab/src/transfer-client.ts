/**
 * A measuring HTTP client run inside a lab namespace (the LAN client, or the gateway for
 * "direct"). Prints one JSON result line:
 *   {ok, bytes, ms, ttfbMs, maxStallMs, error, server}
 * server: an upload's answer from the lab origin (origin-server.ts: its own byte counts and times).
 * maxStallMs is the longest time without progress, from the request's start: between two
 * received chunks (download) or two drained writes (upload).
 *   tsx transfer-client.ts get URL [--local ADDR] [--timeout MS]
 *   tsx transfer-client.ts post URL BYTES [--local ADDR] [--timeout MS]
 */
import * as http from 'node:http';

const [mode, url, ...rest] = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const size = mode === 'post' ? Number(rest[0]) : 0;
const timeout = Number(opt('--timeout') ?? 60000);
const localAddress = opt('--local');

const t0 = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
let bytes = 0;
let ttfb = -1;
let last = 0; // stalls count from the request's start, so a slow first byte counts too
let maxStall = 0;
let finished = false;
/** An upload's answer from the lab origin (bytes and times as it received them). */
let server: Record<string, number> | undefined;

function tick(n: number): void {
  const t = now();
  maxStall = Math.max(maxStall, t - last);
  last = t;
  bytes += n;
}

function done(ok: boolean, error?: string): void {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ ok, bytes, ms: now(), ttfbMs: ttfb, maxStallMs: maxStall, error, server }) + '\n');
  process.exit(0);
}

setTimeout(() => done(false, `timeout after ${timeout} ms`), timeout).unref();

const req = http.request(url, { method: mode === 'post' ? 'POST' : 'GET', localAddress, agent: false, headers: mode === 'post' ? { 'content-length': String(size) } : {} }, (res) => {
  const body: Buffer[] = [];
  res.on('data', (c: Buffer) => {
    if (ttfb < 0) ttfb = now();
    if (mode !== 'post') tick(c.length);
    else body.push(c);
  });
  res.on('end', () => {
    if (mode === 'post') {
      try {
        server = JSON.parse(Buffer.concat(body).toString()) as Record<string, number>;
      } catch {
        // not the lab origin's answer: no server-side figures
      }
    }
    done(res.statusCode === 200 && (mode === 'post' || bytes > 0));
  });
  res.on('error', (e) => done(false, e.message));
});
req.on('error', (e) => done(false, e.message));

if (mode === 'post') {
  const chunk = Buffer.alloc(64 * 1024, 'u');
  let left = size;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      tick(n);
      if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  last = now();
  pump();
} else {
  req.end();
}
