/**
 * A SOCKS5 test peer run inside a network namespace (tsx): an MPTCP listener (optionally with
 * TCP Fast Open) that accepts a pipelined or sequential handshake, prefers the OC method when
 * offered, answers CONNECT with success without dialing anywhere, then echoes. One JSON line on
 * stdout per event. Uses the project's codec for every parse.
 *   argv[2] = JSON { host, port, fastOpen?: number, mptcp?: 'on'|'auto'|'off' }
 */
import type * as net from 'node:net';
import { listen } from 'mptcp-native';
import { encodeMethodSelection, encodeReply, parseGreeting, parseRequest } from '@mptcp-proxy/common';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { host?: string; port?: number; fastOpen?: number; mptcp?: 'on' | 'auto' | 'off' };
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

let next = 0;
function serve(sock: net.Socket): void {
  const id = next++;
  let buf = Buffer.alloc(0);
  let state: 'greeting' | 'request' | 'relay' = 'greeting';
  let first = true;
  sock.on('error', () => undefined);
  sock.on('data', (chunk: Buffer) => {
    if (first) {
      first = false;
      out({ event: 'conn', id, remote: sock.remoteAddress, firstLen: chunk.length, first: chunk.toString('hex') });
    }
    if (state === 'relay') {
      sock.write(chunk);
      return;
    }
    buf = Buffer.concat([buf, chunk]);
    try {
      if (state === 'greeting') {
        const g = parseGreeting(buf);
        if (!g) return;
        buf = buf.subarray(g.length);
        sock.write(encodeMethodSelection(g.methods.includes(0xa5) ? 0xa5 : 0));
        state = 'request';
      }
      if (state === 'request') {
        const r = parseRequest(buf);
        if (!r) return;
        buf = buf.subarray(r.length);
        sock.write(encodeReply(0));
        state = 'relay';
        out({ event: 'stream', id, dest: `${r.address.host}:${r.address.port}`, early: buf.length });
        if (buf.length) sock.write(buf);
      }
    } catch (e) {
      out({ event: 'bad', id, err: (e as Error).message });
      sock.destroy();
    }
  });
}

void (async () => {
  const server = await listen({ host: cfg.host ?? '0.0.0.0', port: cfg.port ?? 1080, fastOpen: cfg.fastOpen, mptcp: cfg.mptcp ?? 'on' });
  server.on('connection', serve);
  out({ event: 'listening', port: (server.address() as net.AddressInfo).port });
})().catch((e) => {
  out({ event: 'fatal', err: String(e) });
  process.exit(1);
});
