/**
 * Issue 10 §1 and issue 14 §3: a bulk upload through optimistic connect plus the warm pool, in
 * the two-ISP lab (equal-20: 2 x 20 Mbit/s, 20 ms one way), reaches at least 0.9 of the sum of
 * the links: plain, and with TLS on the WAN leg (docs/tls.md).
 *
 * The pool's connections idle before a stream takes them. When the server's last segment on a
 * subflow came after its MPTCP socket was created (the pool used to send the SOCKS greeting at
 * once; a pooled TLS connection finishes its handshake, and the MP_JOIN that follows it, before
 * it idles), the first full-sized segment of the upload echoes a timestamp as old as the idle
 * time: the server's first receive-RTT sample is that long, and its MPTCP receive-buffer tuning
 * does not grow the window for that long: ~64 KB per round trip (12 Mbit/s) for as long as the
 * connection had idled. A pooled connection's first bytes now go out as one small segment per
 * subflow (packages/redsocks-ts/docs/optimistic-connect.md, "Warm pool").
 *
 * The scenario of bench/lab-tls.ts: a few small requests (they take pooled connections and the
 * pool refills), the pool idles, then an HTTP POST from the LAN client through a pooled
 * connection. Its first write holds the headers and 64 KB of body, so the first segment after
 * the idle is full-sized (iperf3 cannot show this: it sends a 37-byte cookie first). The figure
 * is the origin's: what it received after the first two seconds of the body (slow start, the
 * second subflow joining) over that time, as iperf3 -O 2 would count it. The stall lasted as
 * long as the pool had idled (6 s here); with TLS the upload ran at 10-11 Mbit/s before the fix.
 */
import { Lab, ModeRunner, PROFILES, curlSmall, oursBuilt, preferCompiled, redsocksPoolStats, setupLab, transfer, waitFor, type Mode } from '@mptcp-proxy/lab';

const PROFILE = PROFILES['equal-20'];
const LINKS_MBIT = PROFILE.isp1.up.rateMbit + PROFILE.isp2.up.rateMbit;
/** pool_size of both modes (packages/lab/src/modes.ts). */
const POOL = 4;
/** How long the pooled connections idle before the upload: the stall used to last this long. */
const IDLE_MS = 6000;
/** The upload: long enough for several seconds at the links' rate after the omitted start. */
const UPLOAD_BYTES = 30e6;
const OMIT_MS = 2000;

jest.setTimeout(180000);

describe('bulk upload through optimistic connect + warm pool', () => {
  let lab: Lab;
  let runner: ModeRunner;

  beforeAll(async () => {
    const built = oursBuilt();
    if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
    lab = await Lab.create(PROFILE);
    setupLab(lab, { compiled: preferCompiled() });
    runner = new ModeRunner(lab);
  });
  afterAll(async () => {
    await runner?.close().catch(() => undefined);
    lab?.destroy();
  });

  test.each([
    ['ours-oc-pool', 'plain'],
    ['ours-oc-pool-tls', 'TLS'],
  ])(`%s (%s): >= 0.9 of the links' sum (${LINKS_MBIT} Mbit/s) after small requests and ${IDLE_MS / 1000} s of pool idle`, async (name) => {
    const mode: Mode = await runner.start(name);
    try {
      const rs = mode.redsocks!;
      await waitFor(async () => (await redsocksPoolStats(rs)).idle === POOL, 15000, 'the warm pool to fill');
      for (let i = 0; i < 5; i++) expect((await curlSmall(lab, 'lan')).ok).toBe(true);
      // the scenario itself, not a synchronisation: pooled connections that have been idle a while
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const before = (await redsocksPoolStats(rs)).hits;
      const r = await transfer(lab, 'lan', 'post', UPLOAD_BYTES, { timeoutMs: 120000, omitMs: OMIT_MS });
      expect({ ok: r.ok, error: r.error }).toEqual({ ok: true, error: undefined });
      const after = r.server?.afterMs ? ((r.server.afterBytes ?? 0) * 8) / (r.server.afterMs * 1000) : 0;
      const whole = (r.bytes * 8) / (r.ms * 1000);
      // on failure the message shows both figures
      const summary = `${after.toFixed(1)} Mbit/s at the origin after the first ${OMIT_MS / 1000} s (${whole.toFixed(1)} Mbit/s over the whole upload)`;
      expect({ summary, atLeast90pct: after >= 0.9 * LINKS_MBIT }).toEqual({ summary, atLeast90pct: true });
      // the upload came from the pool
      expect((await redsocksPoolStats(rs)).hits - before).toBeGreaterThanOrEqual(1);
    } finally {
      await mode.stop();
    }
  });
});
