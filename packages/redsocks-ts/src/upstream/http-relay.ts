/**
 * `type = http-relay`: reads the client's plain-HTTP request head, rewrites it to the
 * absolute-URI form an HTTP proxy expects, and connects to the proxy only once the whole
 * head is here. Any reply is forwarded; a 407 is retried once with credentials.
 */
import { ProtocolError, ReceiveBuffer, UpstreamError } from '@mptcp-proxy/common';
import { AuthCaches, proxyAuthorization } from './http-auth';
import { findHeader, HTTP_MAX_LINE, parseHttpReplyHead } from './http-connect';
import type { Tunnel, UpstreamContext, UpstreamProtocol } from './upstream';

/** Largest client request head we accept. */
export const HTTP_RELAY_MAX_HEAD = 64 * 1024;

export interface ClientRequestHead {
  length: number;
  method: string;
  uri: string;
  version: string;
  headers: Array<[string, string]>;
}

/** Parses a client's request head; null = need more bytes. */
export function parseRequestHead(buf: Buffer): ClientRequestHead | null {
  let pos = 0;
  let first: string | undefined;
  const headers: Array<[string, string]> = [];
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) {
      if (buf.length > HTTP_RELAY_MAX_HEAD) throw new ProtocolError('EHTTPHEAD', 'HTTP request head too long');
      return null;
    }
    let end = nl;
    if (end > pos && buf[end - 1] === 0x0d) end--;
    const line = buf.toString('latin1', pos, end);
    pos = nl + 1;
    if (first === undefined) {
      if (line === '') continue; // stray CRLF before a request is tolerated
      first = line;
      continue;
    }
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const m = /^(\S+)\s+(\S+)\s+(HTTP\/\d+\.\d+)$/.exec(first);
  if (!m) throw new ProtocolError('EHTTPREQUEST', `malformed HTTP request line: ${first}`);
  return { length: pos, method: m[1], uri: m[2], version: m[3], headers };
}

/** The request head as sent to the proxy (auth header included when given). */
export function rewriteRequest(
  req: ClientRequestHead,
  dest: { address: string; port: number },
  auth = '',
): string {
  const hostHeader = req.headers.find(([k]) => k.toLowerCase() === 'host')?.[1];
  const destHost = dest.port === 80 ? dest.address : `${dest.address}:${dest.port}`;
  const host = hostHeader ?? destHost;
  const uri = req.uri.startsWith('/') ? `http://${host}${req.uri}` : req.uri;
  let out = `${req.method} ${uri} ${req.version}\r\n`;
  for (const [k, v] of req.headers) {
    const l = k.toLowerCase();
    if (l === 'connection' || l === 'proxy-connection' || l === 'proxy-authorization') continue;
    out += `${k}: ${v}\r\n`;
  }
  if (hostHeader === undefined) out += `Host: ${destHost}\r\n`;
  out += auth;
  out += 'Proxy-Connection: close\r\nConnection: close\r\n\r\n';
  return out;
}

async function readClientHead(ctx: UpstreamContext): Promise<{ head: ClientRequestHead; body: Buffer }> {
  let head: ClientRequestHead;
  try {
    head = await ctx.early.read(parseRequestHead);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('EHTTPHEAD', 'client closed before sending a complete HTTP request');
  }
  return { head, body: ctx.early.drain() };
}

function uriOf(head: ClientRequestHead, dest: { address: string; port: number }): string {
  return rewriteRequest(head, dest).split(' ')[1];
}

async function attempt(ctx: UpstreamContext, caches: AuthCaches, head: ClientRequestHead, body: Buffer, retried: boolean): Promise<Tunnel> {
  const section = ctx.section;
  const cache = caches.for(section);
  const auth = proxyAuthorization(cache, section.login, section.password, head.method, uriOf(head, ctx.dest));
  const { socket: sock } = await ctx.dial();
  const rb = new ReceiveBuffer(sock);
  try {
    const req = Buffer.from(rewriteRequest(head, ctx.dest, auth), 'latin1');
    sock.write(body.length ? Buffer.concat([req, body]) : req);
    // the reply head stays buffered: every reply, errors included, goes to the client as-is
    const reply = await rb.read(parseHttpReplyHead, { maxBytes: HTTP_MAX_LINE * 8, consume: false });
    if (reply.code === 407 && !retried && section.login !== undefined && section.password !== undefined) {
      const challenge = findHeader(reply, 'Proxy-Authenticate');
      if (challenge !== undefined) {
        cache.challenge = challenge;
        cache.count = 0;
        rb.detach();
        sock.destroy();
        return attempt(ctx, caches, head, body, true);
      }
    }
    if (!(reply.code >= 100 && reply.code <= 999)) {
      throw new UpstreamError('EHTTPSTATUS', `HTTP Proxy error: ${reply.statusLine}`);
    }
    return { upstream: sock, leftover: rb.detach() };
  } catch (err) {
    rb.detach();
    sock.destroy();
    throw err;
  }
}

/** `type = http-relay`; each protocol object keeps its own challenge caches. */
export function httpRelayUpstream(): UpstreamProtocol {
  const caches = new AuthCaches();
  return {
    name: 'http-relay',
    warnings: () => ['You should avoid `http-relay`, e.g. due to CVE-2009-0801'],
    async establish(ctx) {
      const { head, body } = await readClientHead(ctx);
      return attempt(ctx, caches, head, body, false);
    },
  };
}
