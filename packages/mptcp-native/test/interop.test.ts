/** Interop smoke with real peers: curl (plain and under mptcpize) against the addon's MPTCP listener, and ncat -l. */
import * as net from 'node:net';
import { once } from 'node:events';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, isMptcp, listen, mptcpInfo, socketProtocol } from 'mptcp-native';
import { waitFor } from '@mptcp-proxy/lab';
import { recordFacts } from './helpers';

const run = promisify(execFile);

test('an MPTCP listener from the addon serves curl (plain TCP and MPTCP via mptcpize)', async () => {
  const seen: { protocol: number | null; mptcp: boolean }[] = [];
  const server = await listen({ host: '127.0.0.1', port: 0, mptcp: 'on' }, (s) => {
    seen.push({ protocol: socketProtocol(s), mptcp: isMptcp(s) });
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n'));
    s.on('error', () => undefined);
  });
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  try {
    const plain = await run('curl', ['-sS', '--max-time', '10', url]);
    expect(plain.stdout).toBe('hello\n');
    const mp = await run('mptcpize', ['run', 'curl', '-sS', '--max-time', '10', url]);
    expect(mp.stdout).toBe('hello\n');
    expect(seen).toEqual([{ protocol: 6, mptcp: false }, { protocol: 262, mptcp: true }]);
    recordFacts('interopCurl', { plainCurl: seen[0], mptcpizeCurl: seen[1] });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

async function freePort(): Promise<number> {
  const t = net.createServer();
  t.listen(0, '127.0.0.1');
  await once(t, 'listening');
  const port = (t.address() as net.AddressInfo).port;
  await new Promise((r) => t.close(r));
  return port;
}

test("the addon's client reaches a plain ncat -l (falls back to TCP)", async () => {
  const port = await freePort();
  const nc = spawn('ncat', ['-l', '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let got = '';
  nc.stdout.on('data', (d: Buffer) => (got += d.toString()));
  try {
    const s = (await waitFor(() => connect({ host: '127.0.0.1', port, mptcp: 'auto' }).catch(() => null), 10000, 'ncat listening')) as net.Socket;
    s.write('to ncat\n');
    nc.stdin.write('from ncat\n');
    const [d] = await once(s, 'data');
    expect(String(d)).toBe('from ncat\n');
    await waitFor(() => got === 'to ncat\n', 5000, 'ncat received');
    expect(socketProtocol(s)).toBe(262);
    expect(mptcpInfo(s)).toBeNull();
    s.destroy();
  } finally {
    nc.kill();
  }
});
