/** The two-ISP lab itself: it comes up, its links carry and cut traffic, it tears down cleanly. */
import { sh, waitFor, Lab, ADDR, NODES } from '@mptcp-proxy/lab';

describe('two-ISP lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create('fast');
  });
  afterAll(() => lab?.destroy());

  const fetchSmall = (src: string): string =>
    lab.exec('gw', `curl -s --max-time 3 --interface ${src} http://${ADDR.origin}/small`, { allowFail: true });

  test('both ISP links carry traffic through their bridges', async () => {
    // Before setup the gateway only has the default route via isp1; reach isp2's router directly.
    expect(fetchSmall(ADDR.wan1)).toContain('small page');
    expect(lab.exec('gw', `ping -c1 -W2 ${ADDR.gw2}`)).toContain('1 received');
    const s1 = await lab.linkStats('isp1');
    const s2 = await lab.linkStats('isp2');
    expect(s1.on).toBe(true);
    expect(s1.up.pass).toBeGreaterThan(0);
    expect(s1.down.pass).toBeGreaterThan(0);
    expect(s2.up.pass).toBeGreaterThan(0);
  });

  test('a cut stops traffic and a restore resumes it', async () => {
    await lab.cut('isp1');
    expect(fetchSmall(ADDR.wan1)).toBe('');
    const s = await lab.linkStats('isp1');
    expect(s.on).toBe(false);
    expect(s.up.cut + s.down.cut).toBeGreaterThan(0);
    await lab.restore('isp1');
    expect(fetchSmall(ADDR.wan1)).toContain('small page');
  });

  test('link parameters change at run time, per direction', async () => {
    await lab.setLink('isp2', { delayMs: 7, up: { rateMbit: 5 }, down: { rateMbit: 9, lossPct: 100 } });
    const s = await lab.linkStats('isp2');
    expect(s.up).toMatchObject({ delay: 7, rate: 5 });
    expect(s.down).toMatchObject({ delay: 7, rate: 9 });
    // 100 % loss downstream: echo requests pass, no reply returns.
    expect(lab.exec('gw', `ping -c1 -W1 ${ADDR.gw2}`, { allowFail: true })).not.toContain('1 received');
    expect((await lab.linkStats('isp2')).down.loss).toBeGreaterThan(0);
    await lab.setLink('isp2', { delayMs: 2, rateMbit: 100, lossPct: 0 });
    expect(lab.exec('gw', `ping -c1 -W2 ${ADDR.gw2}`)).toContain('1 received');
  });

  test('destroy removes every namespace and bridge process', async () => {
    const extra = await Lab.create('fast', { origin: false });
    const names = NODES.map((n) => extra.ns[n].name);
    const bridgePids = sh(`ip netns pids ${extra.ns.isp1.name}`).trim();
    expect(bridgePids).not.toBe('');
    extra.destroy();
    const list = sh('ip netns list');
    for (const n of names) expect(list).not.toContain(n);
    // Gone, or a zombie waiting for this process to reap it.
    const gone = (pid: string): boolean => !['R', 'S', 'D', 'T', 't', 'I'].includes(sh(`awk '/^State:/{print $2}' /proc/${pid}/status 2>/dev/null`, { allowFail: true }).trim());
    for (const pid of bridgePids.split('\n')) expect(await waitFor(() => gone(pid), 3000, `pid ${pid} to exit`)).toBe(true);
  });
});
