/**
 * PathHealth's state machine and dialing order; probes are real loopback connects.
 */
import * as net from 'node:net';
import diagnosticsChannel from 'node:diagnostics_channel';
import { connect } from 'mptcp-native';
import { PathHealth, isPathFailure, type PathEvent } from '../../src/dial/path-health';

const timeout = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

let server: net.Server;
let port: number;
beforeAll(async () => {
  server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function make(): PathHealth {
  return new PathHealth(
    [
      { name: 'lte', source: '127.0.0.3', backup: true },
      { name: 'fiber', source: '127.0.0.1', backup: false },
      { name: 'dsl', source: '127.0.0.2', backup: false },
    ],
    { host: '127.0.0.1', port },
    { probeIntervalMs: 0, probeTimeoutMs: 300, connect },
  );
}

test('order: live non-backup in config order, then backup, then down paths', () => {
  const h = make();
  expect(h.candidates().map((p) => p.name)).toEqual(['fiber', 'dsl', 'lte']);
  h.reportFailure('fiber', timeout);
  expect(h.candidates().map((p) => p.name)).toEqual(['dsl', 'lte', 'fiber']);
  h.reportFailure('dsl', timeout);
  expect(h.candidates().map((p) => p.name)).toEqual(['lte', 'fiber', 'dsl']);
  h.reportSuccess('fiber', 12);
  expect(h.candidates().map((p) => p.name)).toEqual(['fiber', 'lte', 'dsl']);
  expect(h.liveCount()).toBe(2);
});

test('a path that lost a connect race is tried after healthy ones until it answers', () => {
  const h = make();
  h.reportSuspect('fiber');
  expect(h.candidates().map((p) => p.name)).toEqual(['dsl', 'lte', 'fiber']);
  expect(h.get('fiber')?.up).toBe(true);
  h.reportSuccess('fiber', 3);
  expect(h.candidates().map((p) => p.name)).toEqual(['fiber', 'dsl', 'lte']);
  h.reportSuspect('fiber');
  h.reportFailure('fiber', timeout);
  expect(h.candidates().map((p) => p.name)).toEqual(['dsl', 'lte', 'fiber']);
  expect(h.staggerDelay(h.get('dsl')!)).toBe(250);
  h.reportSuccess('dsl', 80);
  expect(h.staggerDelay(h.get('dsl')!)).toBe(160);
});

test('stagger delay: srtt + 4 x rttvar, within [50 ms, 2 x srtt]', () => {
  const h = make();
  const fiber = () => h.get('fiber')!;
  expect(h.staggerDelay(fiber())).toBe(250);
  // One sample: the deviation starts at a quarter of it, so the bound is 2 x RTT.
  h.reportSuccess('fiber', 40);
  expect(h.staggerDelay(fiber())).toBe(80);
  // Steady connect times shrink the deviation: the bound tends to srtt + 10 ms.
  for (let i = 0; i < 30; i++) h.reportSuccess('fiber', 40);
  expect(h.staggerDelay(fiber())).toBe(50);
  // Jittery ones widen it again, never beyond 2 x srtt.
  for (let i = 0; i < 30; i++) h.reportSuccess('fiber', i % 2 ? 20 : 120);
  const jittery = h.staggerDelay(fiber());
  expect(jittery).toBeGreaterThan(50);
  expect(jittery).toBeLessThanOrEqual(Math.ceil(2 * fiber().rttMs!));
  // A fast link never races the next path sooner than 50 ms.
  for (let i = 0; i < 30; i++) h.reportSuccess('dsl', 0.2);
  expect(h.staggerDelay(h.get('dsl')!)).toBe(50);
});

test("Karn's rule: a connect that outlasted the first SYN retransmission is no RTT sample", () => {
  const h = make();
  h.reportFailure('fiber', timeout);
  expect(h.get('fiber')?.up).toBe(false);
  // the first sample is taken whatever it is (nothing better is known) ...
  h.reportSuccess('fiber', 1065);
  expect(h.get('fiber')?.rttMs).toBe(1065);
  h.reportSuccess('dsl', 30);
  // ... later ones from 1 s up only say the path answers
  h.reportFailure('dsl', timeout);
  h.reportSuccess('dsl', 1065);
  expect(h.get('dsl')).toMatchObject({ up: true, rttMs: 30 });
  h.reportSuccess('dsl', 999);
  expect(h.get('dsl')?.rttMs).toBeGreaterThan(30);
});

test('a refused connect does not blame the path; probes need two misses', () => {
  const h = make();
  h.reportFailure('fiber', refused);
  expect(h.get('fiber')?.up).toBe(true);
  expect(isPathFailure(refused)).toBe(false);
  h.reportFailure('dsl', timeout, true);
  expect(h.get('dsl')?.up).toBe(true);
  h.reportFailure('dsl', timeout, true);
  expect(h.get('dsl')?.up).toBe(false);
  expect(h.get('dsl')?.lastError).toBe('connect ETIMEDOUT');
});

test('attempt timeout is max(3 x RTT, 500 ms), none for the last candidate', () => {
  const h = make();
  const fiber = () => h.get('fiber')!;
  expect(h.attemptTimeout(fiber(), false)).toBe(500);
  h.reportSuccess('fiber', 400);
  expect(h.attemptTimeout(fiber(), false)).toBe(1200);
  expect(h.attemptTimeout(fiber(), true)).toBeUndefined();
});

test('state changes are published on diagnostics_channel redsocks-ts:path', () => {
  const seen: PathEvent[] = [];
  const fn = (m: unknown): void => void seen.push(m as PathEvent);
  diagnosticsChannel.subscribe('redsocks-ts:path', fn);
  try {
    const h = make();
    h.reportSuccess('dsl', 5);
    h.reportFailure('dsl', timeout);
    h.reportSuccess('dsl', 6);
    expect(seen.map((e) => [e.path.name, e.previous, e.path.state])).toEqual([
      ['dsl', 'unknown', 'up'],
      ['dsl', 'up', 'down'],
      ['dsl', 'down', 'up'],
    ]);
    expect(seen[1].path.up).toBe(false);
    expect(typeof seen[2].path.lastChange).toBe('number');
  } finally {
    diagnosticsChannel.unsubscribe('redsocks-ts:path', fn);
  }
});

test('a real probe from a loopback source marks the path up with a measured RTT', async () => {
  const h = make();
  await h.probeAll();
  const fiber = h.get('fiber')!;
  expect(fiber.state).toBe('up');
  expect(fiber.rttMs).not.toBeNull();
  expect(h.view().map((p) => p.state)).toEqual(['up', 'up', 'up']);
  h.stop();
});

describe('probes (issue 14 §4)', () => {
  let seen: Buffer[];
  let probeServer: net.Server;
  let probePort: number;
  beforeAll(async () => {
    seen = [];
    probeServer = net.createServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      s.on('end', () => {
        seen.push(Buffer.concat(chunks));
        s.end(Buffer.from([5, 0xff]));
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => probeServer.listen(0, '127.0.0.1', r));
    probePort = (probeServer.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => probeServer.close(() => r())));

  test('a probe says what it is: the path-probe greeting, then EOF', async () => {
    const { PATH_PROBE_GREETING } = await import('@mptcp-proxy/common');
    const h = new PathHealth([{ name: 'a', source: '127.0.0.1', backup: false }], { host: '127.0.0.1', port: probePort }, {
      probeIntervalMs: 0, probeTimeoutMs: 1000, connect, probeGreeting: PATH_PROBE_GREETING,
    });
    await h.probeAll();
    const { waitFor } = await import('@mptcp-proxy/lab');
    await waitFor(() => seen.length >= 1, 5000, 'the probe reached the server');
    expect(seen[0]!.toString('hex')).toBe('0501a7');
    h.stop();
  });

  test('backup paths are probed at their own slower rate while an active path is up', async () => {
    const counts = new Map<string, number>();
    const counting: typeof connect = (o) => {
      counts.set(o.localAddress!, (counts.get(o.localAddress!) ?? 0) + 1);
      return connect(o);
    };
    const h = new PathHealth(
      [
        { name: 'main', source: '127.0.0.1', backup: false },
        { name: 'lte', source: '127.0.0.3', backup: true },
      ],
      { host: '127.0.0.1', port },
      { probeIntervalMs: 0, probeTimeoutMs: 300, connect: counting, backupProbeIntervalMs: 60_000 },
    );
    await h.probeAll(); // the first round probes everything
    for (let i = 0; i < 5; i++) await h.probeAll(false);
    expect(counts.get('127.0.0.1')).toBe(6);
    expect(counts.get('127.0.0.3')).toBe(1);
    // With the active path down, the backup is probed in the next round.
    h.reportFailure('main', timeout);
    await h.probeAll(false);
    expect(counts.get('127.0.0.3')).toBe(2);
    h.stop();
  });
});

test('setPaths keeps the state of paths that stay, adds new ones, and takes the kernel\'s "unusable"', () => {
  const h = make();
  h.reportSuccess('fiber', 12);
  h.setPaths([
    { name: 'fiber', source: '127.0.0.1', backup: false, usable: true, why: 'endpoint 1' },
    { name: 'dsl', source: '127.0.0.2', backup: false, usable: false, why: 'link dsl is down' },
    { name: 'cable', source: '127.0.0.4', backup: false },
  ]);
  expect(h.get('fiber')).toMatchObject({ state: 'up', rttMs: 12, why: 'endpoint 1' });
  expect(h.get('dsl')).toMatchObject({ state: 'down', up: false, lastError: 'link dsl is down' });
  expect(h.get('lte')).toBeUndefined();
  expect(h.get('cable')?.state).toBe('unknown');
  // Unusable paths are not probed, and a probe success cannot bring them up.
  h.reportSuccess('dsl', 5);
  expect(h.get('dsl')?.state).toBe('down');
  h.setPaths([{ name: 'dsl', source: '127.0.0.2', backup: false, usable: true, why: 'back' }]);
  expect(h.get('dsl')?.state).toBe('unknown');
  h.stop();
});

test('one probe miss: still up, but ranked after the healthy paths until a probe answers', () => {
  const h = make();
  h.reportSuccess('fiber', 10);
  h.reportSuccess('dsl', 10);
  h.reportFailure('fiber', timeout, true);
  expect(h.get('fiber')).toMatchObject({ up: true, state: 'up' });
  expect(h.candidates().map((p) => p.name)).toEqual(['dsl', 'lte', 'fiber']);
  h.reportFailure('fiber', timeout, true);
  expect(h.get('fiber')).toMatchObject({ up: false, state: 'down' });
  h.reportSuccess('fiber', 10, 'probe ok');
  expect(h.candidates().map((p) => p.name)).toEqual(['fiber', 'dsl', 'lte']);
  h.stop();
});
