/**
 * `paths = auto` followed live (issue 10 §2), in a client namespace set up by hand the way a
 * user would (two veth "ISPs", endpoints, a policy route per source): what auto finds, then a
 * link going down and up (its policy route is lost and auto restores it), a DHCP renumbering
 * (auto moves the endpoint and the rule to the new address), a PPPoE-style one (a peer
 * address), an endpoint removed and added.
 */
import { type Netns, destroyAll } from '@mptcp-proxy/lab';
import { NsProc } from './netns-rpc';
import { A1, A2, SERVER, twoIspNetns } from './two-isp-netns';

jest.setTimeout(120000);


let cli: Netns;
let srv: Netns;
let runner: NsProc;
const procs: NsProc[] = [];

type PathRow = { name: string; source: string; up: boolean; state: string; why?: string; device?: string };

beforeAll(async () => {
  ({ cli, srv } = twoIspNetns('kp'));
  cli.exec(`ip mptcp endpoint add ${A1} dev c1 subflow && ip mptcp endpoint add ${A2} dev c2 subflow`);
  const peer = NsProc.start(srv, 'netns-socks-peer.ts', { host: '0.0.0.0', port: 1080, mptcp: 'on' });
  procs.push(peer);
  await peer.waitLine((l) => l.event === 'listening');
  runner = NsProc.start(cli, 'netns-dial-runner.ts', { ip: SERVER, port: 1080, mptcp: 'on', paths: [], pathsAuto: true, pathProbeInterval: 200, pathProbeTimeout: 400 });
  procs.push(runner);
  await runner.waitLine((l) => l.ready === true);
});

afterAll(() => {
  for (const p of procs) p.kill();
  destroyAll();
});

async function pathsWhere(pred: (rows: PathRow[]) => boolean, what: string): Promise<PathRow[]> {
  const end = Date.now() + 20000;
  for (;;) {
    const rows = (await runner.call({ op: 'paths' })).paths as PathRow[];
    if (pred(rows)) return rows;
    if (Date.now() > end) throw new Error(`paths never became ${what}: ${JSON.stringify(rows)}\n${runner.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: never happened\n${runner.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const row = (rows: PathRow[], dev: string): PathRow | undefined => rows.find((r) => r.device === dev);

test('auto finds both ISPs from the endpoints and routes, and says why each one is usable', async () => {
  const rows = await pathsWhere((r) => r.length === 2 && r.every((p) => p.state === 'up'), 'two live paths');
  expect(row(rows, 'c1')).toMatchObject({ name: 'c1', source: A1 });
  expect(row(rows, 'c1')!.why).toMatch(/endpoint 1 on c1: main default route via 10\.1\.1\.2 dev c1/);
  expect(row(rows, 'c2')).toMatchObject({ name: 'c2', source: A2 });
  expect(row(rows, 'c2')!.why).toMatch(/endpoint 2 on c2: rule from 10\.1\.2\.1\/32 -> table 102 default via 10\.1\.2\.2/);
  const dial = (await runner.call({ op: 'dial', n: 2 })).results as Array<{ ok: boolean }>;
  expect(dial.every((d) => d.ok)).toBe(true);
  expect(runner.stderr).toMatch(/paths = auto: c1 10\.1\.1\.1 usable: .*; c2 10\.1\.2\.1 usable: /);
});

test('a link going down makes its path unusable at once; back up, auto restores the lost policy route', async () => {
  cli.exec('ip link set c2 down');
  const down = await pathsWhere((r) => row(r, 'c2')?.state === 'down', 'c2 down');
  expect(row(down, 'c2')!.why).toMatch(/link c2 is down/);
  // §5: the dead path's endpoint is withdrawn (REMOVE_ADDR over c1) ...
  await until(() => !cli.exec('ip mptcp endpoint show').includes(A2), 'endpoint 2 withdrawn');
  expect(runner.stderr).toMatch(/path c2: endpoint 2 \(10\.1\.2\.1\) withdrawn: REMOVE_ADDR sent over the live path/);
  // The kernel deleted table 102's default route with the link, and does not bring it back.
  expect(cli.exec('ip route show table 102', { allowFail: true }).trim()).toBe('');
  cli.exec('ip link set c2 up');
  await pathsWhere((r) => row(r, 'c2')?.state === 'up', 'c2 up again');
  expect(cli.exec('ip route show table 102')).toMatch(/default via 10\.1\.2\.2 dev c2/);
  expect(runner.stderr).toMatch(/table 102 lost its default route when c2 went down; restored default via 10\.1\.2\.2 dev c2/);
  // ... and put back once the path answers again.
  await until(() => cli.exec('ip mptcp endpoint show').includes(`${A2} id 2 subflow dev c2`), 'endpoint 2 back');
  expect(runner.stderr).toMatch(/path c2: endpoint 2 \(10\.1\.2\.1\) re-added/);
});

test('a DHCP renumbering: auto moves the endpoint and the policy rule to the new address', async () => {
  cli.exec(`ip addr del ${A2}/24 dev c2 && ip addr add 10.1.2.7/24 dev c2`);
  const rows = await pathsWhere((r) => row(r, 'c2')?.source === '10.1.2.7' && row(r, 'c2')?.state === 'up', 'c2 on 10.1.2.7');
  expect(row(rows, 'c2')!.why).toMatch(/rule from 10\.1\.2\.7\/32 -> table 102/);
  expect(`${cli.exec('ip mptcp endpoint show')}\n${runner.stderr}`).toMatch(/10\.1\.2\.7 id 2 subflow dev c2/);
  expect(cli.exec('ip rule show')).toMatch(/from 10\.1\.2\.7 lookup 102/);
  expect(runner.stderr).toMatch(/c2 was renumbered 10\.1\.2\.1 -> 10\.1\.2\.7; endpoint 2, rule from 10\.1\.2\.7 lookup 102 moved to 10\.1\.2\.7/);
  const dial = (await runner.call({ op: 'dial', n: 2 })).results as Array<{ ok: boolean }>;
  expect(dial.every((d) => d.ok)).toBe(true);
});

test('a PPPoE-style renumbering (a point-to-point address with a peer): followed the same way', async () => {
  // IFA_LOCAL is ours, IFA_ADDRESS the peer's; the /24 goes away, and with it table 102's route.
  cli.exec('ip addr del 10.1.2.7/24 dev c2 && ip addr add 10.1.2.8 peer 10.1.2.2/32 dev c2');
  const rows = await pathsWhere((r) => row(r, 'c2')?.source === '10.1.2.8' && row(r, 'c2')?.state === 'up', 'c2 on 10.1.2.8');
  expect(row(rows, 'c2')!.why).toMatch(/rule from 10\.1\.2\.8\/32 -> table 102 default via 10\.1\.2\.2/);
  expect(cli.exec('ip mptcp endpoint show')).toMatch(/10\.1\.2\.8 id 2 subflow dev c2/);
  expect(cli.exec('ip route show table 102')).toMatch(/default via 10\.1\.2\.2 dev c2/);
  const dial = (await runner.call({ op: 'dial', n: 2 })).results as Array<{ ok: boolean }>;
  expect(dial.every((d) => d.ok)).toBe(true);
});

test('an endpoint removed and added again (no kernel event: the periodic re-read finds it)', async () => {
  cli.exec('ip mptcp endpoint del id 2');
  const gone = await pathsWhere((r) => r.length === 0, 'no paths');
  expect(gone).toEqual([]);
  expect(runner.stderr).toMatch(/paths = auto: none \(one path only \(c1 10\.1\.1\.1\)/);
  cli.exec('ip mptcp endpoint add 10.1.2.8 id 2 dev c2 subflow');
  await pathsWhere((r) => r.length === 2 && r.every((p) => p.state === 'up'), 'two live paths again');
});
