/**
 * The page-load benchmark's machinery end to end (bench/page-load.ts, docs/lab.md "Page-load
 * benchmark"): headless chromium over the DevTools pipe loads both pages from nginx in the
 * lab, direct from the gateway and through redsocks-ts + socks-server from the LAN; every
 * request of the page arrives whole, over the protocol its origin speaks, with a full TLS
 * handshake per HTTPS connection. Functional only: the timings are the bench's.
 */
import {
  Lab, E2E_PROFILE, setupLab, type Started, oursBuilt, startOurRedsocks, startOurServer, stopAll,
  startWebOrigin, pageLoads, type WebOrigin, type PageLoad,
} from '@mptcp-proxy/lab';


function protocols(l: PageLoad): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of l.resources) out[r.protocol] = (out[r.protocol] ?? 0) + 1;
  return out;
}

describe('page loads in headless chromium through the lab', () => {
  let lab: Lab;
  let web: WebOrigin;
  let daemons: Started[] = [];

  beforeAll(async () => {
    const built = oursBuilt();
    if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
    lab = await Lab.create(E2E_PROFILE, { origin: false });
    setupLab(lab);
    daemons = [await startOurServer(lab), await startOurRedsocks(lab)];
    web = await startWebOrigin(lab);
  });
  afterAll(async () => {
    web?.stop();
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });

  test.each([['direct from the gateway', 'gw'], ['bonded from the LAN', 'lan']] as const)('page 2 %s: 71 requests over h2 and HTTP/1.1, every byte', async (_, node) => {
    const [l] = await pageLoads(lab, node, web, web.page2, 1);
    expect(l.error).toBeUndefined();
    expect(l.ok).toBe(true);
    expect(l.onloadMs).toBeGreaterThan(0);
    expect(l.resources).toHaveLength(70); // + the HTML = 71
    expect(protocols(l)).toEqual({ h2: 47, 'http/1.1': 23 });
    const html = web.page2.bytes - l.resources.reduce((a, r) => a + r.bytes, 0);
    expect(html).toBe(35 * 1024);
    // one TLS handshake per new connection: each carries a secureConnectionStart
    const fresh = l.resources.filter((r) => r.connectEnd > r.connectStart && r.connectStart > 0);
    expect(fresh.length).toBeGreaterThanOrEqual(11);
    for (const r of fresh) expect(r.secureStart).toBeGreaterThan(0);
  });

  test('page 1 bonded: 41 requests on one HTTP/1.1 origin', async () => {
    const [l] = await pageLoads(lab, 'lan', web, web.page1, 1);
    expect(l.ok).toBe(true);
    expect(protocols(l)).toEqual({ 'http/1.1': 40 });
    expect(l.resources.reduce((a, r) => a + r.bytes, 0)).toBe(web.page1.bytes - 20 * 1024);
  });

  test('a name the page does not use fails at once (the browser resolves only the lab names)', async () => {
    const [l] = await pageLoads(lab, 'lan', web, { ...web.page1, url: 'http://elsewhere.example/' }, 1);
    expect(l.ok).toBe(false);
    expect(l.error).toBe('net::ERR_NAME_NOT_RESOLVED');
  });
});
