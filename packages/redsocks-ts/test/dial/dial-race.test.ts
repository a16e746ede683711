/**
 * The dialer's race over WAN paths, on loopback with real sockets (two source addresses): a
 * slow live path races the next live one, but a path known to be down is not started while a
 * live attempt is still handshaking (it would keep resending SYNs until its ISP returns).
 */
import * as net from 'node:net';
import { connect as realConnect } from 'mptcp-native';
import { createDialer, type Dialer } from '../../src/dial';
import type { ConnectLike } from '../../src/dial/path-health';
import { waitFor } from '@mptcp-proxy/lab';
import { testSection } from '../helpers/upstream';

const timeoutErr = (): Error => Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });

let server: net.Server;
let port: number;
let dialer: Dialer | undefined;
const accepted: net.Socket[] = [];

beforeAll(async () => {
  server = net.createServer((s) => void accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterEach(() => {
  dialer?.close();
  dialer = undefined;
  for (const s of accepted.splice(0)) s.destroy();
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/**
 * Real connects, except: path "slow" (127.0.0.1) answers only after `slowMs`, and path "spare"
 * (127.0.0.2) fails like a dead ISP while `spareDead`. Records the source of every real
 * upstream attempt (probes, which are plain TCP without noDelay, are not recorded).
 */
function rig(slowMs: number, spareDead: boolean): { connect: ConnectLike; attempts: string[] } {
  const attempts: string[] = [];
  const connect: ConnectLike = async (o) => {
    if (o.noDelay) attempts.push(o.localAddress ?? '');
    if (o.localAddress === '127.0.0.2' && spareDead) {
      await new Promise((r) => setTimeout(r, 20));
      throw timeoutErr();
    }
    if (o.localAddress === '127.0.0.1' && o.noDelay) await new Promise((r) => setTimeout(r, slowMs));
    return realConnect({ ...o, mptcp: 'off' });
  };
  return { connect, attempts };
}

function makeDialer(connect: ConnectLike): Dialer {
  const inst = testSection({
    ip: '127.0.0.1',
    port,
    mptcp: 'off',
    paths: [
      { name: 'slow', source: '127.0.0.1', backup: false },
      { name: 'spare', source: '127.0.0.2', backup: false },
    ],
    pathProbeInterval: 0,
    pathProbeTimeout: 300,
  });
  return createDialer(inst, undefined, { connect });
}

test('a slow live path races the next live one', async () => {
  const r = rig(400, false);
  dialer = makeDialer(r.connect);
  await waitFor(() => dialer!.paths().every((p) => p.state === 'up'), 5000, 'first probes');
  const d = await dialer.dial();
  expect(r.attempts).toEqual(['127.0.0.1', '127.0.0.2']);
  expect(d.path).toBe('spare');
  d.socket.destroy();
});

test('a path known to be down is not started while a live attempt is still handshaking', async () => {
  const r = rig(400, true);
  dialer = makeDialer(r.connect);
  await waitFor(() => dialer!.paths().find((p) => p.name === 'slow')?.state === 'up', 5000, 'first probe');
  dialer.health!.reportFailure('spare', timeoutErr());
  expect(dialer.paths().find((p) => p.name === 'spare')?.up).toBe(false);
  const d = await dialer.dial();
  expect(r.attempts).toEqual(['127.0.0.1']);
  expect(d.path).toBe('slow');
  d.socket.destroy();
});

test('a path that is down is still the last resort once every live attempt failed', async () => {
  const attempts: string[] = [];
  const connect: ConnectLike = async (o) => {
    if (o.noDelay) attempts.push(o.localAddress ?? '');
    if (o.localAddress === '127.0.0.1' && o.noDelay) throw timeoutErr();
    return realConnect({ ...o, mptcp: 'off' });
  };
  dialer = makeDialer(connect);
  await waitFor(() => dialer!.paths().every((p) => p.state === 'up'), 5000, 'first probes');
  dialer.health!.reportFailure('spare', timeoutErr());
  const d = await dialer.dial();
  expect(attempts).toEqual(['127.0.0.1', '127.0.0.2']);
  expect(d.path).toBe('spare');
  d.socket.destroy();
});
