/**
 * Both daemons in the two-ISP lab (redsocks-ts on the gateway, socks-server on the remote
 * host, gateway configured by mptcp-gateway): bonding uses both ISPs, new connections work
 * while either ISP is down, and a running download survives a cut. Functional only: no timing
 * asserts (the numbers are in bench/lab-bond.ts).
 */
import {
  Lab, IFACES, E2E_PROFILE, type Started, startOurLab, stopAll,
  curlSmall, transfer, failoverRun, linkCeilings, outageTtfb, wanSplit,
} from '@mptcp-proxy/lab';

const E2E = E2E_PROFILE;

describe('redsocks-ts + socks-server over the two-ISP lab', () => {
  let lab: Lab;
  let daemons: Started[] = [];

  beforeAll(async () => {
    ({ lab, daemons } = await startOurLab(E2E));
  });
  afterAll(async () => {
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });

  test('a download through the bonded pair uses both WAN interfaces', async () => {
    const { result: r, wan1, wan2 } = await wanSplit(lab, () => transfer(lab, 'lan', 'get', 4e6, { timeoutMs: 30000 }));
    expect(r).toMatchObject({ ok: true, bytes: 4e6 });
    expect(wan1).toBeGreaterThan(300e3);
    expect(wan2).toBeGreaterThan(300e3);
  });

  test.each(['isp1', 'isp2'] as const)('5/5 new connections succeed while %s is cut', async (isp) => {
    const o = await outageTtfb(lab, { node: 'lan' }, isp, 5, 8);
    expect(o).toMatchObject({ isp, ok: 5, attempts: 5 });
    expect(o.ttfbMs).toHaveLength(5);
    for (const t of o.ttfbMs) expect(t).toBeGreaterThan(0);
    // the link is back: a new connection still works
    expect((await curlSmall(lab, 'lan', { timeoutS: 8 })).ok).toBe(true);
  });

  test('the single-flow ceiling is measured on each link, bound to its WAN address', async () => {
    const before = lab.ifBytes('gw');
    const c = await linkCeilings(lab, 1);
    const after = lab.ifBytes('gw');
    expect(c.map((x) => x.isp)).toEqual(['isp1', 'isp2']);
    for (const x of c) {
      expect(x.downMbit).toBeGreaterThan(0);
      expect(x.upMbit).toBeGreaterThan(0);
    }
    // 6 MB down and 6 MB up over each WAN (50 Mbit/s x 1 s)
    for (const dev of [IFACES.wan1, IFACES.wan2]) {
      expect(after[dev].rx - before[dev].rx).toBeGreaterThan(6e6);
      expect(after[dev].tx - before[dev].tx).toBeGreaterThan(6e6);
    }
  });

  test('a 15 MB download completes when isp1 is cut midway', async () => {
    const r = await failoverRun(lab, { node: 'lan' }, 15e6, 'isp1', { attempts: 0, outageMs: 2000 });
    expect(r.cutAtBytes).toBeLessThan(15e6);
    expect(r.transfer).toMatchObject({ ok: true, bytes: 15e6 });
  });
});
