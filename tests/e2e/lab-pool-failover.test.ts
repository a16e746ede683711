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
 *
 * On unequal links (the asym profile), the pool refilled on the slow isp2 while isp1 was down
 * moves back onto isp1 once it returns (path-spread.ts, `worthTaking`): such a connection's
 * first byte takes one RTT of isp2 (120 ms), later than a fresh connect over isp1 (2 x 30 ms),
 * and it is the first thing taken when isp2 dies in turn (it used to be held until it
 * expired, 20 s).
 */
import { Lab, ADDR, E2E_PROFILE, PROFILES, type LabProfile, redsocksPoolStats, startOurLab, stopAll, waitFor, curlSmall, type Started } from '@mptcp-proxy/lab';

jest.setTimeout(120000);

/** Established connections from `source` to the lab's SOCKS server (the pool's idle ones among them). */
function toServerFrom(lab: Lab, source: string): number {
  return lab.exec('gw', `ss -Htn state established 'dst ${ADDR.server} and dport = :1080 and src ${source}'`).trim().split('\n').filter(Boolean).length;
}

/** Our pair in a lab of `prof`, started and stopped around the describe block that calls it. */
function ourLab(prof: LabProfile): { lab: () => Lab; rs: () => Started } {
  let lab: Lab | undefined;
  let daemons: Started[] = [];
  beforeAll(async () => {
    ({ lab, daemons } = await startOurLab(prof));
  });
  afterAll(async () => {
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });
  return { lab: () => lab as Lab, rs: () => daemons[1] };
}

/** 5 new connections at once while `isp` is cut (restored afterwards): did each succeed? */
async function fiveDuringCut(lab: Lab, isp: 'isp1' | 'isp2'): Promise<boolean[]> {
  await lab.cut(isp);
  try {
    const out = await Promise.all(Array.from({ length: 5 }, () => curlSmall(lab, 'lan', { timeoutS: 8 })));
    return out.map((r) => r.ok);
  } finally {
    await lab.restore(isp);
  }
}

describe('every default: new connections right after an ISP dies', () => {
  const pair = ourLab(E2E_PROFILE);

  test('cut isp1, 5 new connections at once: all succeed', async () => {
    const lab = pair.lab();
    const rs = pair.rs();
    // the server's optimistic-connect verdict is learnt, and the pool holds connections on isp1
    expect((await curlSmall(lab, 'lan', { timeoutS: 8 })).ok).toBe(true);
    await waitFor(async () => {
      const s = await redsocksPoolStats(rs);
      return s.idle >= s.size && toServerFrom(lab, ADDR.wan1) >= 1;
    }, 20000, 'the warm pool to be full, with a connection on isp1');
    expect(await fiveDuringCut(lab, 'isp1')).toEqual([true, true, true, true, true]);
  });
});

describe('asym: after the fast ISP is back, the pool moves off the slow one', () => {
  const pair = ourLab(PROFILES.asym);

  test('cut isp1 (the pool refills on isp2), restore it: the pool is back on isp1 and serves while isp2 is cut', async () => {
    const lab = pair.lab();
    const rs = pair.rs();
    expect((await curlSmall(lab, 'lan', { timeoutS: 8 })).ok).toBe(true);
    const size = (await redsocksPoolStats(rs)).size;
    await waitFor(async () => (await redsocksPoolStats(rs)).pooled_wan1 >= size, 20000, 'the warm pool on isp1');
    await lab.cut('isp1');
    try {
      expect((await curlSmall(lab, 'lan', { timeoutS: 8 })).ok).toBe(true);
      await waitFor(async () => (await redsocksPoolStats(rs)).pooled_wan2 >= size, 20000, 'the warm pool refilled on isp2');
    } finally {
      await lab.restore('isp1');
    }
    await waitFor(
      () => /warm pool: closed \d+ idle connection\(s\) on a path slower than a fresh connect on the fastest \(wan1\)/.test(rs.output()),
      15000,
      'the pool to drop its isp2 connections',
    );
    // full again, every idle connection on isp1 (the pool's own count per path: the kernel's
    // view also shows connections closing, and subflows the path manager added)
    await waitFor(async () => {
      const st = await redsocksPoolStats(rs);
      return st.pooled_wan1 >= st.size && st.pooled_wan2 === 0;
    }, 20000, 'the warm pool back on isp1').catch(async (e: unknown) => {
      // what the pool and the paths were doing, for the failure message
      const log = rs.output().split('\n').filter((l) => /path|pool|pooled/.test(l) && !/pool size=|path wan\d \d|Dumping|End of/.test(l));
      throw new Error(`${String(e)}\npool: ${JSON.stringify(await redsocksPoolStats(rs))}\n${log.slice(-40).join('\n')}`);
    });
    const from = rs.output().length;
    expect(await fiveDuringCut(lab, 'isp2')).toEqual([true, true, true, true, true]);
    // none took a pooled connection on the dead isp2 (the first-flight guard would say so);
    // whether they came from the pool or from fresh connects over isp1 depends on timing: a
    // probe of isp1 sent during its outage can time out after isp1 is back and leave it suspect
    // (not trusted) until the next probe
    expect(rs.output().slice(from)).not.toMatch(/went unanswered/);
  });
});
