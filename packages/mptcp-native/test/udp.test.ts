/**
 * UdpSocket: plain datagrams on loopback, and a TPROXY listener with IP_RECVORIGDSTADDR plus
 * replies from a transparent socket bound to the original destination (IPv4 and IPv6) between
 * two namespaces.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Netns, veth, waitFor, destroyAll } from '@mptcp-proxy/lab';
import { UdpSocket } from '../src/udp';
import { ROOT } from './helpers';

const TSX_CJS = require.resolve('tsx/cjs', { paths: [ROOT] });

function nextMessage(s: UdpSocket): Promise<{ data: Buffer; from: { address: string; port: number } }> {
  return new Promise((resolve) => s.once('message', (data: Buffer, info) => resolve({ data, from: info.from })));
}

describe('loopback', () => {
  test('two sockets exchange datagrams; address(); close() stops the events', async () => {
    const a = UdpSocket.open({ address: '127.0.0.1', port: 0 });
    const b = UdpSocket.open({ address: '127.0.0.1', port: 0 });
    try {
      const pa = a.address();
      expect(pa).toMatchObject({ address: '127.0.0.1', family: 4 });
      expect(pa.port).toBeGreaterThan(0);
      const got = nextMessage(a);
      b.send(Buffer.from('ping'), '127.0.0.1', pa.port);
      const m = await got;
      expect(m.data.toString()).toBe('ping');
      expect(m.from).toEqual(b.address());
      // 100 back to back, all arrive in order (one readable event drains several)
      const seen: string[] = [];
      a.on('message', (d: Buffer) => seen.push(d.toString()));
      for (let i = 0; i < 100; i++) b.send(Buffer.from(String(i)), '127.0.0.1', pa.port);
      await waitFor(() => seen.length === 100, 5000, '100 datagrams');
      expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
      // a 65507-byte datagram (the IPv4 maximum) arrives whole
      const big = Buffer.alloc(65507, 7);
      const gotBig = new Promise<Buffer>((r) => a.once('message', (d: Buffer) => r(d)));
      b.send(big, '127.0.0.1', pa.port);
      expect((await gotBig).equals(big)).toBe(true);
    } finally {
      a.close();
      b.close();
    }
    expect(a.closed).toBe(true);
    expect(() => a.send(Buffer.from('x'), '127.0.0.1', 9)).toThrow(/closed/);
  });

  test('IPv6, and an IPv4 destination from a dual-stack socket', async () => {
    const six = UdpSocket.open({ address: '::', port: 0, ipv6Only: false });
    const four = UdpSocket.open({ address: '127.0.0.1', port: 0 });
    try {
      const got = nextMessage(four);
      six.send(Buffer.from('from-dual'), '127.0.0.1', four.address().port);
      const m = await got;
      expect(m.data.toString()).toBe('from-dual');
      const back = nextMessage(six);
      four.send(Buffer.from('back'), '127.0.0.1', six.address().port);
      // a v4 sender seen by a dual-stack socket is reported as plain IPv4
      expect((await back).from).toEqual({ address: '127.0.0.1', port: four.address().port, family: 4 });
      const one = UdpSocket.open({ address: '::1', port: 0 });
      try {
        const g6 = nextMessage(one);
        six.send(Buffer.from('v6'), '::1', one.address().port);
        expect((await g6).from.address).toBe('::1');
      } finally {
        one.close();
      }
    } finally {
      six.close();
      four.close();
    }
  });

  test('errors carry errno codes and the address', () => {
    expect(() => UdpSocket.open({ address: 'localhost', port: 0 })).toThrow(/IP literal/);
    const a = UdpSocket.open({ address: '127.0.0.1', port: 0 });
    try {
      let err: NodeJS.ErrnoException | undefined;
      try {
        UdpSocket.open({ address: '127.0.0.1', port: a.address().port });
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(err?.code).toBe('EADDRINUSE');
      expect(err?.message).toContain(`127.0.0.1:${a.address().port}`);
      // without IP_TRANSPARENT a non-local address cannot be bound
      expect(() => UdpSocket.open({ address: '192.0.2.1', port: 0 })).toThrow(/EADDRNOTAVAIL/);
    } finally {
      a.close();
    }
  });
});

describe('TPROXY between namespaces', () => {
  let cli: Netns;
  let gw: Netns;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    cli = Netns.create('udpc');
    gw = Netns.create('udpg');
    veth(cli, 'c0', '10.2.1.1/24', gw, 'g0', '10.2.1.2/24');
    cli.exec('ip -6 addr add fd00:21::1/64 dev c0 nodad && ip route add 10.9.8.0/24 via 10.2.1.2 && ip -6 route add fd00:98::/64 via fd00:21::2');
    gw.exec('ip -6 addr add fd00:21::2/64 dev g0 nodad');
    gw.exec([
      'ip rule add fwmark 1 lookup 100 && ip route add local 0.0.0.0/0 dev lo table 100',
      'ip -6 rule add fwmark 1 lookup 100 && ip -6 route add local ::/0 dev lo table 100',
      'nft add table inet t',
      "nft add chain inet t pre '{ type filter hook prerouting priority mangle; }'",
      'nft add rule inet t pre ip daddr 10.9.8.0/24 meta l4proto udp tproxy ip to :5300 meta mark set 1 accept',
      'nft add rule inet t pre ip6 daddr fd00:98::/64 meta l4proto udp tproxy ip6 to :5300 meta mark set 1 accept',
    ].join(' && '));
    const child = gw.spawn(['node', '-r', TSX_CJS, path.join(__dirname, 'fixtures/udp-tproxy-echo.ts'), '5300', '0.0.0.0', '::'], { cwd: ROOT });
    let buf = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`udp fixture exited: ${err}`);
      return lines.some((l) => l.event === 'ready');
    }, 20000, 'udp fixture');
  }, 60000);

  afterAll(() => destroyAll());

  function ask(host: string, port: number, msg: string): { data?: string; from?: { address: string; port: number }; timeout?: boolean } {
    const out = execFileSync('ip', ['netns', 'exec', cli.name, 'node', path.join(__dirname, 'fixtures/udp-ask.js'), host, String(port), msg], { encoding: 'utf8' });
    return JSON.parse(out.trim());
  }

  test.each([
    ['IPv4', '10.9.8.7', 4444, '10.2.1.1'],
    ['IPv6', 'fd00:98::7', 4445, 'fd00:21::1'],
  ])('%s: the listener sees the original destination; the reply comes from it', async (_name, host, port, client) => {
    const r = ask(host, port, `hi-${port}`);
    expect(r).toEqual({ data: `echo:hi-${port}`, from: { address: host, port } });
    // (the fixture's report is read once the event loop runs again)
    await waitFor(() => lines.some((l) => l.data === `hi-${port}`), 5000, 'the fixture report');
    const seen = lines.find((l) => l.data === `hi-${port}`) as { from: { address: string }; to: { address: string; port: number } };
    expect(seen.to).toMatchObject({ address: host, port });
    expect(seen.from.address).toBe(client);
  });
});
