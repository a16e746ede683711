/**
 * Issue 10: the shipped defaults (conf/lab/redsocks.conf mirrors conf/redsocks.conf: pool_size
 * = auto, optimistic = auto, paths = auto) lose no new connection when an ISP dies.
 *
 * The warm pool's connections stay silent while they idle, so each has one subflow, on the path
 * it was opened on; the kernel joins the other path only once a segment from the server has
 * arrived (docs/optimistic-connect.md, "Warm pool"). A stream that takes such a connection
 * right after its ISP was cut sends its first flight into the dead link and nothing else can
 * carry it: that stream used to hang until the client gave up. Now the dialer resets a pooled
 * connection whose first flight nothing acknowledged within the path's race delay plus one RTT,
 * and the stream goes again on a fresh connection (Dialed.sent in upstream.ts).
 *
 * Five new connections at once right after isp1 is cut, with the pool's connections on isp1:
 * all five must succeed (the old code: the ones served from the pool timed out).
 */
import { Lab, ADDR, E2E_PROFILE, redsocksPoolStats, startOurLab, stopAll, waitFor, curlSmall, type Started } from '@mptcp-proxy/lab';

jest.setTimeout(120000);

/** Established connections from `source` to the lab's SOCKS server (the pool's idle ones among them). */
function toServerFrom(lab: Lab, source: string): number {
  return lab.exec('gw', `ss -Htn state established 'dst ${ADDR.server} and dport = :1080 and src ${source}'`).trim().split('\n').filter(Boolean).length;
}

describe('every default: new connections right after an ISP dies', () => {
  let lab: Lab;
  let daemons: Started[] = [];
  let rs: Started;

  beforeAll(async () => {
    ({ lab, daemons } = await startOurLab(E2E_PROFILE));
    rs = daemons[1];
  });
  afterAll(async () => {
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });

  test('cut isp1, 5 new connections at once: all succeed', async () => {
    // the server's optimistic-connect verdict is learnt, and the pool holds connections on isp1
    expect((await curlSmall(lab, 'lan', { timeoutS: 8 })).ok).toBe(true);
    await waitFor(async () => {
      const s = await redsocksPoolStats(rs);
      return s.idle >= s.size && toServerFrom(lab, ADDR.wan1) >= 1;
    }, 20000, 'the warm pool to be full, with a connection on isp1');
    await lab.cut('isp1');
    let out;
    try {
      out = await Promise.all(Array.from({ length: 5 }, () => curlSmall(lab, 'lan', { timeoutS: 8 })));
    } finally {
      await lab.restore('isp1');
    }
    expect(out.map((r) => r.ok)).toEqual([true, true, true, true, true]);
  });
});
