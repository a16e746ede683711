/**
 * `type = socks4`: `04 01 <port> <ip> <login or ""> 00`, then an 8-byte reply whose VN
 * must be 0 and CD 90. No SOCKS4a: redsocks always has the numeric destination.
 */
import * as net from 'node:net';
import { socks4, socks4RepText, ProtocolError, ReceiveBuffer, UpstreamError } from '@mptcp-proxy/common';
import type { Tunnel, UpstreamContext, UpstreamProtocol } from './upstream';

const CONNECT = 1;
const GRANTED = 90;

export function socks4ConnectRequest(dest: { address: string; port: number }, login?: string): Buffer {
  return socks4.encodeRequest(CONNECT, { type: 'ipv4', host: dest.address, port: dest.port }, login ?? '');
}

/** `type = socks4` (no state of its own). */
export function socks4Upstream(): UpstreamProtocol {
  return {
    name: 'socks4',
    warnings: (section) => (section.password !== undefined ? [`password <${section.password}> is ignored for socks4 connections`] : []),
    establish,
  };
}

async function establish(ctx: UpstreamContext): Promise<Tunnel> {
  if (!net.isIPv4(ctx.dest.address)) throw new UpstreamError('ESOCKS_ATYP', 'Socks4 can not connect to an IPv6 destination');
  const { socket: sock } = await ctx.dial();
  const rb = new ReceiveBuffer(sock);
  try {
    sock.write(socks4ConnectRequest(ctx.dest, ctx.section.login));
    let reply;
    try {
      reply = await rb.read(socks4.parseReply, { maxBytes: 8 });
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'ESOCKS_VERSION') {
        throw new UpstreamError('ESOCKS_VERSION', 'Socks4 server reported unexpected reply version...');
      }
      throw err;
    }
    const rep = reply.rep;
    if (rep !== GRANTED) throw new UpstreamError('ESOCKS4_REP', `Socks4 server status: ${socks4RepText(rep)} (${rep})`);
    return { upstream: sock, leftover: rb.detach() };
  } catch (err) {
    rb.detach();
    sock.destroy();
    throw err;
  }
}
