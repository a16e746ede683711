/** Traffic generators for the demo and the benches: curl timings and the measuring client. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { Lab, NodeName, ADDR } from './lab';
import { TSX } from './paths';

export const ORIGIN = `http://${ADDR.origin}:${ADDR.originPort}`;

function execIn(lab: Lab, node: NodeName, argv: string[], timeoutMs: number): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', lab.ns[node].name, ...argv], { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 1 << 20 }, (err, out, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, out: out ?? '', err: stderr ?? '' });
    });
  });
}

export interface CurlTiming {
  ok: boolean;
  connectMs: number;
  ttfbMs: number;
  totalMs: number;
}

/** One small request; `local` binds the source address (direct over one ISP from the gateway). */
export async function curlSmall(lab: Lab, node: NodeName, opts: { local?: string; timeoutS?: number; path?: string } = {}): Promise<CurlTiming> {
  const argv = ['curl', '-s', '-o', '/dev/null', '--max-time', String(opts.timeoutS ?? 5), '-w', '%{http_code} %{time_connect} %{time_starttransfer} %{time_total}'];
  if (opts.local) argv.push('--interface', opts.local);
  argv.push(`${ORIGIN}${opts.path ?? '/small'}`);
  const r = await execIn(lab, node, argv, ((opts.timeoutS ?? 5) + 2) * 1000);
  const [code, c, s, t] = r.out.trim().split(' ');
  return { ok: code === '200', connectMs: Number(c) * 1000, ttfbMs: Number(s) * 1000, totalMs: Number(t) * 1000 };
}

export interface TransferResult {
  ok: boolean;
  bytes: number;
  ms: number;
  ttfbMs: number;
  maxStallMs: number;
  error?: string;
  /** An upload's figures as the lab origin received it (origin-server.ts): bytes, ms, and with omitMs afterBytes, afterMs. */
  server?: { bytes: number; ms: number; afterBytes?: number; afterMs?: number };
}

export async function transfer(
  lab: Lab,
  node: NodeName,
  kind: 'get' | 'post',
  bytes: number,
  opts: { local?: string; timeoutMs?: number; omitMs?: number } = {},
): Promise<TransferResult> {
  const client = path.join(__dirname, 'transfer-client.ts');
  const t = opts.timeoutMs ?? 60000;
  const argv = kind === 'get' ? [TSX, client, 'get', `${ORIGIN}/bytes/${bytes}`] : [TSX, client, 'post', `${ORIGIN}/upload${opts.omitMs !== undefined ? `?omit=${opts.omitMs}` : ''}`, String(bytes)];
  if (opts.local) argv.push('--local', opts.local);
  argv.push('--timeout', String(t));
  const r = await execIn(lab, node, argv, t + 10000);
  try {
    return JSON.parse(r.out.trim().split('\n').pop() ?? '') as TransferResult;
  } catch {
    return { ok: false, bytes: 0, ms: 0, ttfbMs: -1, maxStallMs: 0, error: r.err.slice(0, 300) || `exit ${r.code}` };
  }
}

export function mbit(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 8) / (ms * 1000) : 0;
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
