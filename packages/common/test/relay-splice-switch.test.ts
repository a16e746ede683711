/**
 * The switch from the JS pipes to splice(2) under the races that can lose or strand bytes:
 * a write queue below the highWaterMark, bytes Node read but did not pass on, a FIN still in
 * the kernel or already seen by libuv, and many short connections splicing at once.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Relay, SpliceBudget } from '@mptcp-proxy/common';
import { spliceStatus } from 'mptcp-native';
import { collect, connect, listen, portOf, rig, sha } from './helpers/loopback';
import { waitFor } from '@mptcp-proxy/lab';

/** The process' fd budget for spliced relays (one per daemon in the product). */
const budget = new SpliceBudget();

beforeAll(() => {
  expect(spliceStatus()).toEqual({ loaded: true });
});

interface Handle {
  readStop(): number;
  reading: boolean;
}
const handleOf = (s: net.Socket): Handle => (s as unknown as { _handle: Handle })._handle;

// Every test runs with the kernel relay on the main loop and on mptcp-native's relay thread.
describe.each(['loop', 'thread'] as const)('splice on the %s', (on) => {
  test('a reply queued below the highWaterMark (peer buffer full) does not strand the switch', async () => {
    const g = await rig();
    try {
      // Fill the kernel buffers towards a paused client until one small write stays queued in
      // Node: writableLength > 0 but write() returned true, so 'drain' will never be emitted.
      g.client.pause();
      const chunk = Buffer.alloc(1024, 0x61);
      let queued = 0;
      while (g.a.writableLength === 0) {
        g.a.write(chunk);
        queued += chunk.length;
      }
      expect(g.a.writableLength).toBeLessThan(g.a.writableHighWaterMark);
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      const atClient = collect(g.client);
      const atTarget = collect(g.target);
      g.client.resume();
      await waitFor(() => r.mode === 'splice', 10000, 'relay.mode === splice');
      g.target.end('reply');
      g.client.end('request');
      const [c, t, res] = await Promise.all([atClient, atTarget, r.done]);
      expect(c.length).toBe(queued + 5);
      expect(c.subarray(queued).toString()).toBe('reply');
      expect(t.toString()).toBe('request');
      expect(res).toEqual({ aToB: 7, bToA: 5 });
      expect(r.mode).toBe('splice');
    } finally {
      g.close();
    }
  });

  test('a peer that reads only after its upload went through is not deadlocked by the switch', async () => {
    const g = await rig();
    try {
      // A backlog towards the client (above the highWaterMark: 'drain' will come once it reads).
      g.client.pause();
      const down = Buffer.alloc(64 * 1024, 0x64);
      while (g.a.writableLength < 4 * g.a.writableHighWaterMark) g.a.write(down);
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      const atTarget = collect(g.target);
      // The client reads nothing until its whole upload is in the kernel; reads stopped during
      // the switch would leave the upload, and so the client, stuck for good.
      const up = randomBytes(32 << 20);
      g.client.write(up, () => g.client.resume());
      g.client.end();
      const got = await atTarget;
      expect(got.length).toBe(up.length);
      expect(sha(got)).toBe(sha(up));
      g.target.end();
      await r.done;
    } finally {
      g.close();
    }
  }, 60000);

  test('bytes Node read but did not pass on go first; the FIN still in the kernel follows them', async () => {
    const g = await rig();
    try {
      // 'early' sits in b's readable buffer, libuv no longer reads: the FIN stays in the kernel.
      g.b.pause();
      g.target.write('early;');
      await waitFor(() => g.b.readableLength === 6, 10000, 'early bytes buffered in Node');
      handleOf(g.b).readStop();
      handleOf(g.b).reading = false;
      g.target.end('late');
      await new Promise((res) => setTimeout(res, 50));
      const atClient = collect(g.client);
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      expect((await atClient).toString()).toBe('early;late');
      const atTarget = collect(g.target);
      g.client.end('bye');
      expect((await atTarget).toString()).toBe('bye');
      await expect(r.done).resolves.toEqual({ aToB: 3, bToA: 10 });
    } finally {
      g.close();
    }
  });

  test('a FIN libuv already read before the switch keeps the relay on the JS path, bytes intact', async () => {
    const g = await rig();
    try {
      g.b.pause();
      g.target.end('reply-then-fin');
      await waitFor(() => (g.b as unknown as { _readableState: { ended: boolean } })._readableState.ended, 10000, 'EOF seen by Node');
      const atClient = collect(g.client);
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      expect((await atClient).toString()).toBe('reply-then-fin');
      g.client.end();
      await expect(r.done).resolves.toEqual({ aToB: 0, bToA: 14 });
      expect(r.mode).toBe('js');
    } finally {
      g.close();
    }
  });

  /**
   * `conns` short connections through Relays splicing at once (spliceAfterBytes 0): the client
   * sends "Q" (and half-closes with it when `clientEnds`), the target answers one byte and FINs.
   */
  async function shortConnections(conns: number, target: (s: net.Socket) => void, clientEnds: boolean): Promise<{ replies: string[]; modes: Record<string, number>; errors: string[] }> {
    const tSrv = await listen((s) => {
      s.on('error', () => undefined);
      target(s);
    });
    const modes: Record<string, number> = {};
    const errors: string[] = [];
    const relays: Array<Promise<void>> = [];
    const pSrv = await listen((a) => {
      relays.push(
        connect(portOf(tSrv)).then(async (b) => {
          const r = new Relay(a, b, { splice: budget, spliceOn: on, spliceAfterBytes: 0 });
          r.startAtoB();
          r.startBtoA();
          try {
            await r.done;
            modes[r.mode] = (modes[r.mode] ?? 0) + 1;
          } catch (e) {
            errors.push((e as Error).message);
          }
        }),
      );
    });
    try {
      const one = async (): Promise<string> => {
        const c = await connect(portOf(pSrv));
        const got = collect(c);
        if (clientEnds) c.end('Q');
        else c.write('Q');
        const s = (await got).toString();
        c.end();
        c.destroy();
        return s;
      };
      const replies: string[] = [];
      for (let i = 0; i < conns; i += 50) replies.push(...(await Promise.all(Array.from({ length: Math.min(50, conns - i) }, one))));
      await Promise.all(relays);
      return { replies, modes, errors };
    } finally {
      tSrv.close();
      pSrv.close();
    }
  }

  describe('many short connections splicing at once: no reply is lost', () => {
    // [name, target, client half-closes with its request, some relays must really splice]
    const cases: Array<[string, (s: net.Socket) => void, boolean, boolean]> = [
      ['reply after the request', (s) => s.once('data', () => s.end('R')), false, true],
      ['reply and FIN at accept (while switching)', (s) => s.end('R'), false, true],
      ['reply, FIN a loop turn later', (s) => s.once('data', () => {
        s.write('R');
        setImmediate(() => s.end());
      }), false, true],
      // Node often reads the client's FIN before b connects: those relays stay on JS.
      ['client half-closes with its request', (s) => s.once('data', () => s.end('R')), true, false],
    ];
    test.each(cases)('%s', async (_name, target, clientEnds, mustSplice) => {
      const { replies, modes, errors } = await shortConnections(300, (s) => {
        target(s);
        s.resume();
      }, clientEnds);
      expect(errors).toEqual([]);
      expect(replies.filter((r) => r !== 'R')).toEqual([]);
      expect(replies.length).toBe(300);
      // Both paths may carry a connection (a FIN seen first keeps it on JS).
      expect((modes.splice ?? 0) + (modes.js ?? 0)).toBe(300);
      if (mustSplice) expect(modes.splice ?? 0).toBeGreaterThan(0);
    }, 60000);
  });
});
