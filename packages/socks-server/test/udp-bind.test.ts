/** UDP ASSOCIATE round trip and BIND with an FTP-like active data connection (SOCKS5 and SOCKS4). */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { once } from 'node:events';
import { encodeUdpDatagram, parseUdpDatagram } from '@mptcp-proxy/common';
import { RawClient, ipv4Request, serverFrom, type Fixture } from './helpers/fixture';
import { waitFor } from '@mptcp-proxy/lab';

let fx: Fixture;

beforeAll(async () => {
  fx = await serverFrom(`
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
client pass { from: 0/0 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  command: connect bind bindreply udpassociate udpreply
  log: connect disconnect error }
`);
});

afterAll(() => fx.close());

describe('UDP ASSOCIATE', () => {
  let echo: dgram.Socket;
  let echoPort: number;
  const seen: Buffer[] = [];

  beforeAll(async () => {
    echo = dgram.createSocket('udp4');
    echo.on('message', (m, r) => {
      seen.push(m);
      echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address);
    });
    echo.bind(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = echo.address().port;
  });
  afterAll(() => echo.close());

  test('round trip, FRAG!=0 and foreign sources dropped, ends with the TCP connection', async () => {
    const ctl = await RawClient.connect(fx.port);
    ctl.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(3, '0.0.0.0', 0)]));
    const head = await ctl.read(12);
    expect(head[3]).toBe(0);
    const relayIp = `${head[6]}.${head[7]}.${head[8]}.${head[9]}`;
    const relayPort = head.readUInt16BE(10);
    expect(relayIp).toBe('127.0.0.1');

    const u = dgram.createSocket('udp4');
    u.bind(0, '127.0.0.1');
    await once(u, 'listening');
    const replies: Buffer[] = [];
    u.on('message', (m) => replies.push(m));
    const dst = { type: 'ipv4' as const, host: '127.0.0.1', port: echoPort };
    // A fragment first: must be dropped, never forwarded.
    u.send(encodeUdpDatagram(dst, Buffer.from('frag'), 1), relayPort, relayIp);
    u.send(encodeUdpDatagram(dst, Buffer.from('ping')), relayPort, relayIp);
    await waitFor(() => replies.length >= 1);
    const d = parseUdpDatagram(replies[0]);
    expect(d.frag).toBe(0);
    expect(d.address).toEqual({ type: 'ipv4', host: '127.0.0.1', port: echoPort });
    expect(d.data.toString()).toBe('echo:ping');
    expect(seen.map((b) => b.toString())).toEqual(['ping']);

    // Another source address: dropped.
    const other = dgram.createSocket('udp4');
    other.bind(0, '127.0.0.9');
    await once(other, 'listening');
    other.send(encodeUdpDatagram(dst, Buffer.from('intruder')), relayPort, relayIp);
    u.send(encodeUdpDatagram(dst, Buffer.from('ping2')), relayPort, relayIp);
    await waitFor(() => replies.length >= 2);
    expect(seen.map((b) => b.toString())).toEqual(['ping', 'ping2']);
    other.close();

    const before = fx.srv.sessions.size;
    ctl.destroy();
    await waitFor(() => fx.srv.sessions.size < before);
    expect(fx.lines.some((l) => /pass\(1\): udp\/udpassociate \]: .*local client closed/.test(l))).toBe(true);
    u.close();
  });
});

describe('BIND (FTP active mode)', () => {
  async function bindFlow(socks4: boolean): Promise<void> {
    const ctl = await RawClient.connect(fx.port);
    if (socks4) {
      ctl.write([4, 2, 0, 0, 127, 0, 0, 1, 0]);
    } else {
      ctl.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(2, '127.0.0.1', 0)]));
      expect([...(await ctl.read(2))]).toEqual([5, 0]);
    }
    const first = await ctl.read(socks4 ? 8 : 10);
    expect(first[1]).toBe(socks4 ? 90 : 0);
    const port = socks4 ? first.readUInt16BE(2) : first.readUInt16BE(8);
    const ip = socks4 ? `${first[4]}.${first[5]}.${first[6]}.${first[7]}` : `${first[4]}.${first[5]}.${first[6]}.${first[7]}`;
    expect(port).toBeGreaterThan(0);

    // The "FTP server" opens the data connection to the announced address.
    const data = net.connect({ host: ip, port, localAddress: '127.0.0.1' });
    await once(data, 'connect');
    const second = await ctl.read(socks4 ? 8 : 10);
    expect(second[1]).toBe(socks4 ? 90 : 0);
    const peerPort = socks4 ? second.readUInt16BE(2) : second.readUInt16BE(8);
    expect(peerPort).toBe(data.localPort);
    data.write('226 listing follows\r\n');
    expect((await ctl.read(21)).toString()).toBe('226 listing follows\r\n');
    const got: Buffer[] = [];
    data.on('data', (b) => got.push(b));
    ctl.write(Buffer.from('thanks'));
    await waitFor(() => Buffer.concat(got).toString() === 'thanks');
    data.end();
    await ctl.untilEnd();
    ctl.sock.end();
    await waitFor(() => fx.lines.filter((l) => /tcp\/bind \]: .*remote peer closed/.test(l)).length >= (socks4 ? 2 : 1));
    data.destroy();
  }

  test('SOCKS5 BIND: two replies, then data both ways', async () => {
    await bindFlow(false);
    expect(fx.lines.some((l) => /pass\(1\): tcp\/bind \[:/.test(l))).toBe(true);
  });

  test('SOCKS4 BIND: two replies, then data both ways', async () => {
    await bindFlow(true);
    expect(fx.lines.filter((l) => /tcp\/bind \[:/.test(l)).length).toBe(2);
  });
});
