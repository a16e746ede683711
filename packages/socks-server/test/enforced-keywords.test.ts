/**
 * danted.conf keywords that were parsed and then ignored: each is now enforced as Dante does,
 * refused with file:line, or (when it changes nothing we do) accepted with a file:line warning.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { once } from 'node:events';
import { ConfigError, encodeUdpDatagram, parseUdpDatagram } from '@mptcp-proxy/common';
import { parseDantedConfig } from '../src';
import { RawClient, ipv4Request, serverFrom, sink, sleep, type Sink } from './helpers/fixture';
import { tempSystemUser, waitFor } from '@mptcp-proxy/lab';

const HEAD = 'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n';

async function udpAssociate(port: number): Promise<{ ctl: RawClient; u: dgram.Socket; relayPort: number; replies: Buffer[] }> {
  const ctl = await RawClient.connect(port);
  ctl.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(3, '0.0.0.0', 0)]));
  const head = await ctl.read(12);
  expect(head[3]).toBe(0);
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1');
  await once(u, 'listening');
  const replies: Buffer[] = [];
  u.on('message', (m) => replies.push(m));
  return { ctl, u, relayPort: head.readUInt16BE(10), replies };
}

describe('parsed, then enforced', () => {
  test('udp.portrange: the UDP relay socket is bound inside the range', async () => {
    const fx = await serverFrom(`${HEAD}client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  command: udpassociate udpreply
  udp.portrange: 40100-40109 }
`);
    try {
      const a = await udpAssociate(fx.port);
      expect(a.relayPort).toBeGreaterThanOrEqual(40100);
      expect(a.relayPort).toBeLessThanOrEqual(40109);
      a.ctl.destroy();
      a.u.close();
    } finally {
      await fx.close();
    }
  });

  describe('udp.connectdst', () => {
    async function strangerGetsThrough(connectdst: 'yes' | 'no'): Promise<boolean> {
      const echo = dgram.createSocket('udp4');
      let outerPort = 0;
      echo.on('message', (m, r) => {
        outerPort = r.port;
        echo.send(m, r.port, r.address);
      });
      echo.bind(0, '127.0.0.1');
      await once(echo, 'listening');
      const fx = await serverFrom(`${HEAD}udp.connectdst: ${connectdst}
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  command: udpassociate udpreply }
`);
      const stranger = dgram.createSocket('udp4');
      stranger.bind(0, '127.0.0.1');
      await once(stranger, 'listening');
      try {
        const a = await udpAssociate(fx.port);
        a.u.send(encodeUdpDatagram({ type: 'ipv4', host: '127.0.0.1', port: echo.address().port }, Buffer.from('ping')), a.relayPort, '127.0.0.1');
        await waitFor(() => a.replies.length === 1, 5000, 'the echo');
        // Someone else sends to the association's outer socket.
        stranger.send(Buffer.from('unsolicited'), outerPort, '127.0.0.1');
        await sleep(300);
        a.ctl.destroy();
        a.u.close();
        return a.replies.some((r) => parseUdpDatagram(r).data.toString() === 'unsolicited');
      } finally {
        await fx.close();
        echo.close();
        stranger.close();
      }
    }

    test('yes (Dante\'s default): replies only from the one destination sent to', async () => {
      expect(await strangerGetsThrough('yes')).toBe(false);
    });

    test('no: replies from anyone the udpreply rules pass', async () => {
      expect(await strangerGetsThrough('no')).toBe(true);
    });
  });

  test('timeout.tcp_fin_wait: a half-closed relay is closed after that long', async () => {
    // A destination that never closes its side.
    const held: net.Socket[] = [];
    const dest = net.createServer({ allowHalfOpen: true }, (c) => {
      held.push(c);
      c.on('error', () => undefined);
      c.resume();
    });
    dest.listen(0, '127.0.0.1');
    await once(dest, 'listening');
    const fx = await serverFrom(`${HEAD}timeout.tcp_fin_wait: 1
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
    try {
      const c = await RawClient.connect(fx.port);
      c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', (dest.address() as net.AddressInfo).port)]));
      await c.read(12);
      c.sock.end(); // half-close: the destination never follows
      const t0 = Date.now();
      await c.untilEnd(10_000);
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor(() => fx.lines.some((l) => /tcp\/connect \]: .*: tcp_fin_wait timeout\./.test(l)), 5000, 'the close line');
    } finally {
      await fx.close();
      held.forEach((h) => h.destroy());
      dest.close();
    }
  });

  describe('group:', () => {
    let dest: Sink;
    const user = tempSystemUser('grp', 'Grp-pass3');
    beforeAll(async () => {
      dest = await sink();
    });
    afterAll(async () => {
      user.remove();
      await dest.close();
    });

    test('a socks-rule with group: matches a user in that system group (it never matched before)', async () => {
      const fx = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  group: ${user.name}
  log: connect error }
socks block { from: 0/0 to: 0/0
  log: connect error }
`);
      try {
        const c = await RawClient.connect(fx.port);
        const u = Buffer.from(user.name);
        const p = Buffer.from(user.password);
        c.write(Buffer.concat([Buffer.from([5, 1, 2, 1, u.length]), u, Buffer.from([p.length]), p, ipv4Request(1, '127.0.0.1', dest.port)]));
        expect([...(await c.read(4))]).toEqual([5, 2, 1, 0]);
        expect((await c.read(10))[1]).toBe(0);
        expect(fx.lines.some((l) => /pass\(1\): tcp\/connect \[:/.test(l))).toBe(true);
        c.destroy();
      } finally {
        await fx.close();
      }
    });
  });

  test('srchost: nodnsunknown refuses a client address without a DNS name; one with a name passes', async () => {
    const dest = await sink();
    const fx = await serverFrom(`${HEAD}srchost: nodnsunknown nodnsmismatch
client pass { from: 0/0 to: 0/0
  log: connect error }
socks pass { from: 0/0 to: 0/0 }
`);
    try {
      const unknown = await RawClient.connect(fx.port, '127.0.0.1', '127.0.9.9');
      unknown.write([5, 1, 0]);
      expect((await unknown.untilEnd()).length).toBe(0);
      expect(fx.lines.some((l) => /block\(0\): tcp\/accept \]: 127\.0\.9\.9\.\d+ .*srchost: no DNS name for 127\.0\.9\.9/.test(l))).toBe(true);
      // 127.0.0.1 has a name (/etc/hosts) that resolves back to it.
      const known = await RawClient.connect(fx.port, '127.0.0.1', '127.0.0.1');
      known.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port)]));
      expect((await known.read(12))[3]).toBe(0);
      known.destroy();
    } finally {
      await fx.close();
      await dest.close();
    }
  });
});

describe('parsed, then refused or warned about (file:line)', () => {
  const warnings = (text: string): string[] => parseDantedConfig(text, 'w.conf').warnings.map((w) => `${w.line}: ${w.message}`);

  test('libwrap.hosts_access: yes is access control we do not have: refused', () => {
    expect(() => parseDantedConfig(`${HEAD}libwrap.hosts_access: yes\n`, 'lw.conf')).toThrow(
      expect.objectContaining({ line: 4, token: 'yes', code: 'EDANTED_UNSUPPORTED' }));
    expect(parseDantedConfig(`${HEAD}libwrap.hosts_access: no\n`, 'lw.conf').warnings).toEqual([]);
    try {
      parseDantedConfig(`${HEAD}libwrap.hosts_access: yes\n`, 'lw.conf');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toMatch(/^lw\.conf:4:23: libwrap/);
    }
  });

  test('keywords without effect here each get a warning on their line', () => {
    const w = warnings(`${HEAD}compatibility: sameport
child.maxrequests: 100
pam.servicename: sockd
user.libwrap: nobody
extension: bind
client pass { from: 0/0 to: 0/0
  timeout.negotiate: 5
}
socks pass { from: 0/0 to: 0/0
  log: connect data iooperation tcpinfo
  timeout.negotiate: 5
  pam.servicename: x
}
`);
    expect(w).toEqual(expect.arrayContaining([
      expect.stringMatching(/^4: "compatibility" is accepted but has no effect/),
      expect.stringMatching(/^5: "child.maxrequests" is accepted but has no effect/),
      expect.stringMatching(/^6: "pam.servicename" is accepted but has no effect/),
      expect.stringMatching(/^7: "user.libwrap" is accepted but has no effect/),
      expect.stringMatching(/^8: "extension: bind" is accepted but has no effect/),
      expect.stringMatching(/^13: "log: data iooperation tcpinfo" is accepted but has no effect/),
      expect.stringMatching(/^14: "timeout.negotiate in a socks-rule" is accepted but has no effect/),
      expect.stringMatching(/^15: "pam.servicename" is accepted but has no effect/),
    ]));
    // A client-rule's timeout.negotiate is enforced (hardening.test.ts), so it gets no warning.
    expect(w.some((x) => x.startsWith('10:'))).toBe(false);
  });

  test('the keywords now enforced parse without a warning', () => {
    expect(warnings(`${HEAD}srchost: nodnsmismatch
udp.connectdst: yes
timeout.tcp_fin_wait: 60
errorlog: stderr
client pass { from: 0/0 to: 0/0
  session.throttle: 10/1
}
socks pass { from: 0/0 to: 0/0
  udp.portrange: 40000-40100
  session.state.key: from
  session.state.max: 5
  session.state.throttle: 2/1
  timeout.tcp_fin_wait: 3
}
`)).toEqual([]);
  });
});
