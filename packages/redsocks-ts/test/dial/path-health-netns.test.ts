/**
 * Issue 6, "new connections while an ISP is down": a client namespace with two WAN paths
 * (veth c1/c2, per-source policy routing, MPTCP subflow endpoints) to a server namespace whose
 * SOCKS peer answers on one address. Cutting path 1 at the server (nft drop) must leave 5/5
 * new upstream connections working via path 2; restoring it brings path 1 back.
 */
import { type Netns, destroyAll } from '@mptcp-proxy/lab';
import { NsProc } from './netns-rpc';
import { A1, A2, SERVER, twoIspNetns } from './two-isp-netns';

jest.setTimeout(120000);


let cli: Netns;
let srv: Netns;
const procs: NsProc[] = [];

function topology(): void {
  // ISP 1 carries the default route; ISP 2 is reachable only by source (table 102).
  ({ cli, srv } = twoIspNetns('f2'));
  cli.exec('ip route add default via 10.1.1.2 dev c1 table 101 && ip rule add from 10.1.1.1 table 101');
  cli.exec(`ip mptcp endpoint add ${A1} dev c1 subflow && ip mptcp endpoint add ${A2} dev c2 subflow`);
}

/** Cuts one ISP at the server: everything from that source address is dropped. */
function cut(source: string): void {
  srv.exec('nft add table inet f2cut');
  srv.exec("nft add chain inet f2cut in '{ type filter hook input priority 0 ; policy accept ; }'");
  srv.exec(`nft add rule inet f2cut in ip saddr ${source} drop`);
}

/** Idempotent: also run after each test, so a failed test does not leave an ISP cut. */
function restore(): void {
  srv.exec('nft delete table inet f2cut', { allowFail: true });
}

const cutPath1 = (): void => cut(A1);
const restorePath1 = restore;

type Result = { ok: boolean; path: string | null; local: string | null; err?: string };
type PathRow = { name: string; up: boolean; state: string; rttMs: number | null };

beforeAll(async () => {
  topology();
  const peer = NsProc.start(srv, 'netns-socks-peer.ts', { host: '0.0.0.0', port: 1080, mptcp: 'on' });
  procs.push(peer);
  await peer.waitLine((l) => l.event === 'listening');
});

afterEach(() => restore());

afterAll(() => {
  for (const p of procs) p.kill();
  destroyAll();
});

const TWO_PATHS = [
  { name: 'isp1', source: A1, device: 'c1', backup: false },
  { name: 'isp2', source: A2, device: 'c2', backup: false },
];

/** The dial runner in the client namespace: MPTCP to the SOCKS peer over both paths. */
function startRunner(over: Record<string, unknown>): NsProc {
  const c = NsProc.start(cli, 'netns-dial-runner.ts', { ip: SERVER, port: 1080, mptcp: 'on', paths: TWO_PATHS, pathProbeTimeout: 400, ...over });
  procs.push(c);
  return c;
}

async function until(cond: () => boolean, what: string, c: NsProc): Promise<void> {
  const end = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: never happened\n${c.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function pathsWhere(c: NsProc, pred: (rows: PathRow[]) => boolean, what: string): Promise<PathRow[]> {
  const end = Date.now() + 20000;
  for (;;) {
    const rows = (await c.call({ op: 'paths' })).paths as PathRow[];
    if (pred(rows)) return rows;
    if (Date.now() > end) throw new Error(`paths never became ${what}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('new connections survive a cut of the default-route ISP, and the path is used again once back', async () => {
  const c = startRunner({
    optimistic: 'on',
    pathProbeInterval: 200,
  });
  await c.waitLine((l) => l.ready === true);
  await pathsWhere(c, (rows) => rows.every((r) => r.state === 'up'), 'all up');

  const before = (await c.call({ op: 'dial', n: 5 })).results as Result[];
  expect(before.map((r) => r.ok)).toEqual([true, true, true, true, true]);
  expect(before.map((r) => r.path)).toEqual(['isp1', 'isp1', 'isp1', 'isp1', 'isp1']);
  expect(before.map((r) => r.local)).toEqual([A1, A1, A1, A1, A1]);

  cutPath1();
  // No waiting for the probe: the first dial may still try isp1 and must fall over by itself.
  const during = (await c.call({ op: 'dial', n: 5 })).results as Result[];
  expect(during.map((r) => r.ok)).toEqual([true, true, true, true, true]);
  expect(during.map((r) => r.path)).toEqual(['isp2', 'isp2', 'isp2', 'isp2', 'isp2']);
  expect(during.map((r) => r.local)).toEqual([A2, A2, A2, A2, A2]);
  const downRows = await pathsWhere(c, (rows) => rows.find((r) => r.name === 'isp1')?.up === false, 'isp1 down');
  expect(downRows.find((r) => r.name === 'isp2')?.up).toBe(true);

  restorePath1();
  await pathsWhere(c, (rows) => rows.every((r) => r.up), 'all up again');
  const after = (await c.call({ op: 'dial', n: 2 })).results as Result[];
  expect(after.map((r) => r.ok)).toEqual([true, true]);
  expect(after.map((r) => r.path)).toEqual(['isp1', 'isp1']);

  // the other ISP failing: new connections stay on isp1 and keep working
  cut(A2);
  try {
    const other = (await c.call({ op: 'dial', n: 5 })).results as Result[];
    expect(other.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(other.map((r) => r.path)).toEqual(['isp1', 'isp1', 'isp1', 'isp1', 'isp1']);
    await pathsWhere(c, (rows) => rows.find((r) => r.name === 'isp2')?.up === false, 'isp2 down');
  } finally {
    restore();
  }
  if (process.env.F2_DEBUG) {
    const ms = (rs: Result[]): string => rs.map((r) => (r as { ms?: number }).ms).join(' ');
    console.log(`before: ${ms(before)}\nduring: ${ms(during)}\nafter: ${ms(after)}\n${c.stderr}`);
  }
  await c.call({ op: 'exit' });
});

test('pooled connections on a path that goes down are dropped and refilled on the live path', async () => {
  const c = startRunner({
    pathProbeInterval: 200,
    poolSize: 2,
    poolIdleTimeout: 60,
  });
  await c.waitLine((l) => l.ready === true);
  const full = (await c.call({ op: 'poolReady' })).pool as Record<string, number>;
  expect(full.idle).toBe(2);

  cutPath1();
  try {
    await pathsWhere(c, (rows) => rows.find((r) => r.name === 'isp1')?.up === false, 'isp1 down');
    const res = (await c.call({ op: 'dial', n: 3 })).results as Result[];
    expect(res.map((r) => r.ok)).toEqual([true, true, true]);
    expect(res.map((r) => r.path)).toEqual(['isp2', 'isp2', 'isp2']);
    const stats = (await c.call({ op: 'pool' })).pool as Record<string, number>;
    expect(stats.dropped).toBeGreaterThanOrEqual(2);
    expect(stats.hits).toBeGreaterThanOrEqual(1);
  } finally {
    restorePath1();
  }
  await c.call({ op: 'exit' });
});

test('equal-cost paths: a burst of new connections and the warm pool start half on each path', async () => {
  const c = startRunner({ pathProbeInterval: 200, poolSize: 4, poolIdleTimeout: 60 });
  await c.waitLine((l) => l.ready === true);
  await pathsWhere(c, (rows) => rows.every((r) => r.state === 'up' && r.rttMs !== null), 'all up, RTTs known');
  // the pool's first fill may predate the RTTs; after one burst its refills are spread
  await c.call({ op: 'burst', n: 4 });
  await c.call({ op: 'poolReady' });
  const burst = (await c.call({ op: 'burst', n: 8 })).results as Result[];
  expect(burst.every((r) => r.ok)).toBe(true);
  const on = (name: string): number => burst.filter((r) => r.path === name).length;
  // 8 at once: 4 from the pool (2 + 2) and 4 fresh, each on the path with fewer open
  expect([on('isp1'), on('isp2')]).toEqual([4, 4]);
  expect(burst.filter((r) => r.path === 'isp1').every((r) => r.local === A1)).toBe(true);
  expect(burst.filter((r) => r.path === 'isp2').every((r) => r.local === A2)).toBe(true);
  await c.call({ op: 'exit' });
});

test('a stalled subflow of a live connection gets its path probed and marked down between probe rounds', async () => {
  // isp2 as a backup endpoint: the live stream's data stays on isp1 until isp1 stops answering
  cli.exec(`ip mptcp endpoint flush && ip mptcp endpoint add ${A1} dev c1 subflow && ip mptcp endpoint add ${A2} dev c2 subflow backup`);
  const c = startRunner({
    // one probe round at start, the next one long after this test: only the passive signal can act
    pathProbeInterval: 600000,
  });
  try {
    await c.waitLine((l) => l.ready === true);
    await pathsWhere(c, (rows) => rows.every((r) => r.state === 'up'), 'all up');
    const held = await c.call({ op: 'hold' });
    expect(held).toMatchObject({ ok: true, path: 'isp1' });
    cutPath1();
    const rows = await pathsWhere(c, (r) => r.find((p) => p.name === 'isp1')?.up === false, 'isp1 down by the stall signal');
    expect(rows.find((p) => p.name === 'isp2')?.up).toBe(true);
    // Issue 10 §3: data unacknowledged for max(4 RTT, 300 ms) is the signal, before 3 RTOs (~1.4 s).
    expect(c.stderr).toMatch(/isp1 \(10\.1\.1\.1\): live subflow 10\.1\.1\.1 -> .* has \d+ segments unacknowledged for \d+ ms; probing it now/);
    // Issue 10 §5, fixed paths too: the dead path's endpoint is withdrawn while isp2 is up ...
    await until(() => !cli.exec('ip mptcp endpoint show').includes(`${A1} `), 'isp1 endpoint withdrawn', c);
    expect(c.stderr).toMatch(/path isp1: endpoint \d+ \(10\.1\.1\.1\) withdrawn: REMOVE_ADDR sent over the live path/);
    restorePath1();
    // ... and re-added once a probe gets through (the next probe round: run it now).
    await c.call({ op: 'probe' });
    await until(() => cli.exec('ip mptcp endpoint show').includes(`${A1} `), 'isp1 endpoint re-added', c);
    await c.call({ op: 'unhold' });
  } finally {
    restorePath1();
    cli.exec(`ip mptcp endpoint flush && ip mptcp endpoint add ${A1} dev c1 subflow && ip mptcp endpoint add ${A2} dev c2 subflow`);
  }
  await c.call({ op: 'exit' });
});
