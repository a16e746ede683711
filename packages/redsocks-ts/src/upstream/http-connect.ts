/**
 * `type = http-connect`: `CONNECT a.b.c.d:port HTTP/1.0` (no Host header), optional
 * Proxy-Authorization from the per-section challenge cache, optional disclose_src header.
 * A 407 with credentials configured caches the challenge and retries once on a new
 * connection; later connections authenticate pre-emptively.
 */
import { ProtocolError, ReceiveBuffer, UpstreamError } from '@mptcp-proxy/common';
import type * as net from 'node:net';
import { AuthCaches, proxyAuthorization } from './http-auth';
import type { Tunnel, UpstreamContext, UpstreamProtocol } from './upstream';

/** redsocks drops a reply whose line is longer than this. */
export const HTTP_MAX_LINE = 4096;

export interface HttpReplyHead {
  length: number;
  statusLine: string;
  /** NaN when the status line is not `HTTP/x.y NNN`. */
  code: number;
  headers: Array<[string, string]>;
}

/**
 * Parses an HTTP response head from the bytes so far; null = need more. Lines end in LF
 * or CRLF (evbuffer_readline accepts both). Throws when a line exceeds HTTP_MAX_LINE.
 */
export function parseHttpReplyHead(buf: Buffer): HttpReplyHead | null {
  let pos = 0;
  let statusLine: string | undefined;
  const headers: Array<[string, string]> = [];
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) {
      if (buf.length - pos > HTTP_MAX_LINE) throw new ProtocolError('EHTTPLINE', 'HTTP reply line too long');
      return null;
    }
    if (nl - pos > HTTP_MAX_LINE) throw new ProtocolError('EHTTPLINE', 'HTTP reply line too long');
    let end = nl;
    if (end > pos && buf[end - 1] === 0x0d) end--;
    const line = buf.toString('latin1', pos, end);
    pos = nl + 1;
    if (statusLine === undefined) {
      statusLine = line;
      continue;
    }
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const m = /^HTTP\/\d+\.\d+\s+(\d+)/.exec(statusLine);
  return { length: pos, statusLine, code: m ? Number(m[1]) : NaN, headers };
}

export function findHeader(head: HttpReplyHead, name: string): string | undefined {
  const n = name.toLowerCase();
  return head.headers.find(([k]) => k.toLowerCase() === n)?.[1];
}

export function discloseHeader(kind: string, client: { address: string; port: number }): string {
  switch (kind) {
    case 'X-Forwarded-For':
      return `X-Forwarded-For: ${client.address}\r\n`;
    case 'Forwarded_ip':
      return `Forwarded: for=${client.address}\r\n`;
    case 'Forwarded_ipport':
      return `Forwarded: for="${client.address}:${client.port}"\r\n`;
    default:
      return '';
  }
}

export function connectRequest(
  dest: { address: string; port: number },
  auth: string,
  disclose: string,
): string {
  return `CONNECT ${dest.address}:${dest.port} HTTP/1.0\r\n${auth}${disclose}\r\n`;
}

/** on_proxy_fail = forward_http_err: hand the proxy's status line and headers to the client, then FIN. */
export function forwardHttpError(ctx: UpstreamContext, raw: Buffer): void {
  ctx.client.end(raw);
}

async function attempt(
  ctx: UpstreamContext,
  caches: AuthCaches,
  retried: boolean,
): Promise<Tunnel> {
  const section = ctx.section;
  const cache = caches.for(section);
  const uri = `${ctx.dest.address}:${ctx.dest.port}`;
  const auth = proxyAuthorization(cache, section.login, section.password, 'CONNECT', uri);
  const { socket: sock } = await ctx.dial();
  const rb = new ReceiveBuffer(sock);
  try {
    sock.write(connectRequest(ctx.dest, auth, discloseHeader(section.discloseSrc, ctx.clientAddr)));
    const head = await rb.read(parseHttpReplyHead, { maxBytes: HTTP_MAX_LINE * 8 });
    if (head.code >= 200 && head.code <= 299) return { upstream: sock, leftover: rb.detach() };
    if (head.code === 407) {
      if (section.login === undefined || section.password === undefined) {
        throw failure(ctx, sock, head, `HTTP Proxy auth required, but no login/password configured: ${head.statusLine}`, 'EHTTPAUTH');
      }
      // a fresh challenge was just answered: the credentials are wrong
      if (retried) throw failure(ctx, sock, head, `HTTP Proxy auth failed: ${head.statusLine}`, 'EHTTPAUTH');
      const challenge = findHeader(head, 'Proxy-Authenticate');
      if (challenge === undefined) {
        throw failure(ctx, sock, head, `HTTP Proxy auth required, but no \`Proxy-Authenticate:\` header found: ${head.statusLine}`, 'EHTTPAUTH');
      }
      // no or stale cached challenge: cache this one and retry on a new connection
      cache.challenge = challenge;
      cache.count = 0;
      rb.detach();
      sock.destroy();
      return attempt(ctx, caches, true);
    }
    throw failure(ctx, sock, head, `HTTP Proxy error: ${head.statusLine}`, 'EHTTPSTATUS');
  } catch (err) {
    rb.detach();
    sock.destroy();
    throw err;
  }
}

function failure(ctx: UpstreamContext, sock: net.Socket, head: HttpReplyHead, message: string, code: string): UpstreamError {
  sock.destroy();
  if (ctx.section.onProxyFail === 'forward_http_err') {
    // the head as the proxy sent it (re-serialised with CRLF)
    const raw = [head.statusLine, ...head.headers.map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    forwardHttpError(ctx, Buffer.from(raw, 'latin1'));
    return new UpstreamError(code, message, { clientHandled: true });
  }
  return new UpstreamError(code, message);
}

/** `type = http-connect`; each protocol object keeps its own challenge caches. */
export function httpConnectUpstream(): UpstreamProtocol {
  const caches = new AuthCaches();
  return {
    name: 'http-connect',
    establish: (ctx) => attempt(ctx, caches, false),
  };
}
