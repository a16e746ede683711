import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { Relay, RelayError, SpliceBudget, relay } from '@mptcp-proxy/common';
import { fdOf, connect as mpConnect, isMptcp, listen as mpListen, spliceStatus } from 'mptcp-native';
import { collect, connect, listen, portOf, rig, sha, type Rig } from './helpers/loopback';
import { fdKinds, waitFor } from '@mptcp-proxy/lab';

/** The process' fd budget for spliced relays (one per daemon in the product). */
const budget = new SpliceBudget();

const fdCount = (): number => readdirSync('/proc/self/fd').length;

type SpliceOn = 'loop' | 'thread';

async function spliced(r: Relay): Promise<void> {
  await waitFor(() => r.mode === 'splice', 10000, 'relay.mode === splice');
}

/** A rig with a Relay already switched to splice; the rig is closed afterwards. */
async function withSplicedRelay(on: SpliceOn, fn: (g: Rig, r: Relay) => Promise<void>): Promise<void> {
  const g = await rig();
  try {
    const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
    r.startAtoB();
    r.startBtoA();
    await spliced(r);
    await fn(g, r);
  } finally {
    g.close();
  }
}

beforeAll(() => {
  expect(spliceStatus()).toEqual({ loaded: true });
});

// Every test runs with the kernel relay on the main loop and on mptcp-native's relay thread.
describe.each(['loop', 'thread'] as const)('splice on the %s', (on) => {
  test('bulk both ways byte-exact through the splice path', async () => {
    const g = await rig();
    try {
      const up = randomBytes(24 << 20);
      const down = randomBytes(12 << 20);
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      const atTarget = collect(g.target);
      const atClient = collect(g.client);
      g.client.end(up);
      g.target.end(down);
      const [t, c, res] = await Promise.all([atTarget, atClient, r.done]);
      expect(r.mode).toBe('splice');
      expect(sha(t)).toBe(sha(up));
      expect(sha(c)).toBe(sha(down));
      expect(res).toEqual({ aToB: up.length, bToA: down.length });
      expect(g.a.destroyed && g.b.destroyed).toBe(true);
    } finally {
      g.close();
    }
  });

  test('half-close both ways: each EOF is passed on alone', async () => {
    await withSplicedRelay(on, async (g, r) => {
      const atTarget = collect(g.target);
      g.client.end('client-done');
      expect((await atTarget).toString()).toBe('client-done');
      // a->b ended; b->a still carries data after it.
      const atClient = collect(g.client);
      g.target.write('late-');
      g.target.end('reply');
      expect((await atClient).toString()).toBe('late-reply');
      await expect(r.done).resolves.toEqual({ aToB: 11, bToA: 10 });
    });
  });

  test('slow reader: backpressure stays in the kernel, nothing buffers in JS', async () => {
    await withSplicedRelay(on, async (g, r) => {
      g.target.pause();
      const data = randomBytes(64 << 20);
      g.client.end(data);
      // The client's own queue backs up because nothing downstream reads.
      await waitFor(() => g.client.writableLength > 0 && r.aToB > 0, 10000, 'client backpressure');
      await new Promise((res) => setTimeout(res, 200));
      expect(g.client.writableLength).toBeGreaterThan(0);
      expect(r.aToB).toBeLessThan(data.length);
      expect(g.a.readableLength + g.b.writableLength + g.a.writableLength + g.b.readableLength).toBe(0);
      const atTarget = collect(g.target);
      g.target.resume();
      g.target.end();
      expect(sha(await atTarget)).toBe(sha(data));
      await expect(r.done).resolves.toEqual({ aToB: data.length, bToA: 0 });
    });
  });

  test('peer reset rejects with ERELAY_SOCKET on that side and destroys both sockets', async () => {
    await withSplicedRelay(on, async (g, r) => {
      g.client.on('error', () => undefined);
      g.target.resetAndDestroy();
      const err = (await r.done.then(() => null, (e: RelayError) => e)) as RelayError;
      expect(err).toBeInstanceOf(RelayError);
      expect(err.code).toBe('ERELAY_SOCKET');
      expect(err.side).toBe('b');
      expect((err.cause as NodeJS.ErrnoException).code).toMatch(/ECONNRESET|EPIPE/);
      expect(g.a.destroyed && g.b.destroyed).toBe(true);
    });
  });

  test('head bytes and bytes Node already buffered are relayed first, in order', async () => {
    const g = await rig();
    try {
      g.client.write('early-client;');
      g.target.write('early-target;');
      await waitFor(() => g.a.readableLength > 0 && g.b.readableLength > 0, 10000, 'Node-side buffering');
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      r.startAtoB(Buffer.from('headA;'));
      r.startBtoA(Buffer.from('headB;'));
      await spliced(r);
      const atTarget = collect(g.target);
      const atClient = collect(g.client);
      g.client.end('late-client');
      g.target.end('late-target');
      expect((await atTarget).toString()).toBe('headA;early-client;late-client');
      expect((await atClient).toString()).toBe('headB;early-target;late-target');
      await expect(r.done).resolves.toEqual({ aToB: 30, bToA: 30 });
    } finally {
      g.close();
    }
  });

  test('a resume() by the owner after the switch does not steal bytes', async () => {
    await withSplicedRelay(on, async (g, r) => {
      g.a.resume();
      g.b.resume();
      const data = randomBytes(1 << 20);
      const atTarget = collect(g.target);
      g.client.end(data);
      expect(sha(await atTarget)).toBe(sha(data));
      g.target.end();
      await expect(r.done).resolves.toEqual({ aToB: data.length, bToA: 0 });
    });
  });

  test('idle timeout and onBytes work on the splice path', async () => {
    const g = await rig();
    try {
      let counted = 0;
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on, idleTimeoutMs: 300, onBytes: (_d, n) => (counted += n) });
      r.startAtoB();
      r.startBtoA();
      await spliced(r);
      g.client.write('x'.repeat(1000));
      await waitFor(() => r.aToB === 1000, 10000, 'bytes counted');
      const err = (await r.done.then(() => null, (e: RelayError) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_IDLE');
      expect(err.aToB).toBe(1000);
      expect(counted).toBe(1000);
    } finally {
      g.close();
    }
  });

  test('not eligible (a tap) falls back to the JS path', async () => {
    const g = await rig();
    try {
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      const seen: Buffer[] = [];
      r.startAtoB(undefined, { tap: (c) => seen.push(c) });
      r.startBtoA();
      const atTarget = collect(g.target);
      g.client.end('tapped');
      expect((await atTarget).toString()).toBe('tapped');
      g.target.end();
      await r.done;
      expect(r.mode).toBe('js');
      expect(Buffer.concat(seen).toString()).toBe('tapped');
    } finally {
      g.close();
    }
  });

  test('no fd leak over 500 spliced relays', async () => {
    const tSrv = await listen((s) => {
      s.on('data', () => undefined);
      s.on('end', () => s.end('pong'));
    });
    const pending: Array<Promise<void>> = [];
    const pSrv = await listen((a) => {
      pending.push(
        connect(portOf(tSrv)).then(async (b) => {
          const r = new Relay(a, b, { splice: budget, spliceOn: on });
          r.startAtoB();
          r.startBtoA();
          await r.done;
          if (r.mode !== 'splice') throw new Error(`mode ${r.mode}`);
        }),
      );
    });
    try {
      const one = async (): Promise<string> => {
        const c = await connect(portOf(pSrv));
        const got = collect(c);
        // Wait for the switch before EOF, so every relay really splices.
        await new Promise((res) => setTimeout(res, 20));
        c.end('ping');
        const s = (await got).toString();
        c.destroy();
        return s;
      };
      await Promise.all(Array.from({ length: 10 }, one)); // warm up lazy handles/loaders
      await Promise.all(pending.splice(0));
      await new Promise((res) => setTimeout(res, 50));
      // the relay thread may keep up to 64 empty pipes (128 fds) for its next relays
      const before = fdKinds();
      const pooled = on === 'thread' ? 128 : 0;
      for (let i = 0; i < 10; i++) {
        const got = await Promise.all(Array.from({ length: 50 }, one));
        expect(got.every((s) => s === 'pong')).toBe(true);
      }
      await Promise.all(pending);
      expect(pending.length).toBe(500);
      const back = (): boolean => fdKinds().all - fdKinds().pipes <= before.all - before.pipes && fdKinds().pipes <= before.pipes + pooled;
      await waitFor(back, 10000, `fd count back to ${before.all} + pooled pipes (now ${fdCount()})`);
      expect(fdKinds().sockets).toBeLessThanOrEqual(before.sockets);
    } finally {
      tSrv.close();
      pSrv.close();
    }
  }, 60000);

  test('an MPTCP socket spliced to a plain TCP socket', async () => {
    let target!: net.Socket;
    const tSrv = await listen((s) => (target = s));
    let a!: net.Socket;
    const mSrv = await mpListen({ host: '127.0.0.1', port: 0, mptcp: 'on' }, (s) => (a = s));
    const client = await mpConnect({ host: '127.0.0.1', port: portOf(mSrv), mptcp: 'on' });
    const b = await connect(portOf(tSrv));
    try {
      await waitFor(() => a !== undefined && target !== undefined, 10000, 'accepts');
      a.allowHalfOpen = true;
      client.allowHalfOpen = true;
      expect(isMptcp(a)).toBe(true);
      const r = relay(a, b, { splice: budget, spliceOn: on });
      const up = randomBytes(8 << 20);
      const down = randomBytes(4 << 20);
      const atTarget = collect(target);
      const atClient = collect(client);
      await new Promise((res) => setTimeout(res, 20));
      client.end(up);
      target.end(down);
      const [t, c, res] = await Promise.all([atTarget, atClient, r]);
      expect(sha(t)).toBe(sha(up));
      expect(sha(c)).toBe(sha(down));
      expect(res).toEqual({ aToB: up.length, bToA: down.length });
    } finally {
      for (const s of [client, target, a, b]) s?.destroy();
      tSrv.close();
      mSrv.close();
    }
  });

  test("an owner's destroy() of a spliced socket closes the connection and rejects ERELAY_CLOSED", async () => {
    await withSplicedRelay(on, async (g, r) => {
      const clientClosed = new Promise((res) => g.client.once('end', res).once('close', res));
      const targetClosed = new Promise((res) => g.target.once('end', res).once('close', res));
      g.client.on('error', () => undefined);
      g.target.on('error', () => undefined);
      g.client.resume();
      g.target.resume();
      g.a.destroy();
      const err = (await r.done.then(() => null, (e: RelayError) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_CLOSED');
      expect(err.side).toBe('a');
      // Both peers see their connection end although the relay's dups held the sockets open.
      await Promise.all([clientClosed, targetClosed]);
      expect(g.b.destroyed).toBe(true);
    });
  });

  if (on === 'thread') {
    test("on the thread, Node's own fds of both sockets are closed; bytesRead/bytesWritten go on counting", async () => {
      const g = await rig();
      try {
        // each socket by its inode: Node's fd now, the relay thread's dup alone afterwards
        const sockA = readlinkSync(`/proc/self/fd/${fdOf(g.a)}`);
        const sockB = readlinkSync(`/proc/self/fd/${fdOf(g.b)}`);
        const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
        r.startAtoB(Buffer.from('head'));
        r.startBtoA();
        const atTarget = collect(g.target);
        const atClient = collect(g.client);
        g.client.write('before');
        await waitFor(() => g.a.bytesRead === 6, 5000, 'a read 6 bytes in JS');
        await spliced(r);
        // no handle and no fd of Node's: only the relay thread's dup holds each socket
        expect((g.a as unknown as { _handle: unknown })._handle).toBeNull();
        expect((g.b as unknown as { _handle: unknown })._handle).toBeNull();
        const links = readdirSync('/proc/self/fd').map((f) => {
          try {
            return readlinkSync(`/proc/self/fd/${f}`);
          } catch {
            return '';
          }
        });
        for (const sock of [sockA, sockB]) expect(links.filter((l) => l === sock)).toHaveLength(1);
        const up = randomBytes(1 << 20);
        const down = randomBytes(3 << 20);
        g.client.end(up);
        g.target.end(down);
        const [t, c, res] = await Promise.all([atTarget, atClient, r.done]);
        expect(t.toString('latin1', 0, 10)).toBe('headbefore');
        expect(sha(t.subarray(10))).toBe(sha(up));
        expect(sha(c)).toBe(sha(down));
        expect(res).toEqual({ aToB: 10 + up.length, bToA: down.length });
        expect([g.a.bytesRead, g.a.bytesWritten, g.b.bytesRead, g.b.bytesWritten]).toEqual([6 + up.length, down.length, down.length, 10 + up.length]);
      } finally {
        g.close();
      }
    });
  }

  test('per-direction pipes finish in the order the EOFs were passed on', async () => {
    const g = await rig();
    try {
      const r = new Relay(g.a, g.b, { splice: budget, spliceOn: on });
      const order: string[] = [];
      void r.startAtoB().done.then(() => order.push('aToB'));
      void r.startBtoA().done.then(() => order.push('bToA'));
      await spliced(r);
      const atClient = collect(g.client);
      g.target.end('first');
      expect((await atClient).toString()).toBe('first');
      const atTarget = collect(g.target);
      g.client.end('second');
      expect((await atTarget).toString()).toBe('second');
      await r.done;
      expect(order).toEqual(['bToA', 'aToB']);
    } finally {
      g.close();
    }
  });

  test('spliceAfterBytes: a short exchange stays on the JS path, a bulk one switches after the threshold', async () => {
    const short = await rig();
    try {
      const r = new Relay(short.a, short.b, { splice: budget, spliceOn: on, spliceAfterBytes: 64 * 1024 });
      r.startAtoB();
      r.startBtoA();
      const atTarget = collect(short.target);
      const atClient = collect(short.client);
      short.client.end(Buffer.from('x'));
      short.target.end(Buffer.from('y'));
      const [t, c] = await Promise.all([atTarget, atClient, r.done]);
      expect([t.toString(), c.toString()]).toEqual(['x', 'y']);
      expect(r.mode).toBe('js');
    } finally {
      short.close();
    }
    const bulk = await rig();
    try {
      const up = randomBytes(8 << 20);
      const r = new Relay(bulk.a, bulk.b, { splice: budget, spliceOn: on, spliceAfterBytes: 64 * 1024 });
      r.startAtoB();
      r.startBtoA();
      const atTarget = collect(bulk.target);
      const atClient = collect(bulk.client);
      bulk.client.write(up);
      await waitFor(() => r.mode === 'splice', 10000, 'relay.mode === splice');
      bulk.client.end();
      bulk.target.end();
      const [t, c, res] = await Promise.all([atTarget, atClient, r.done]);
      expect(sha(t)).toBe(sha(up));
      expect(c.length).toBe(0);
      expect(res).toEqual({ aToB: up.length, bToA: 0 });
    } finally {
      bulk.close();
    }
  });

  test('SpliceBudget: a quarter of RLIMIT_NOFILE, six fds per spliced relay; a relay past it stays on the JS path', async () => {
    const tiny = new SpliceBudget(24); // room for exactly one spliced relay (6 <= 24 / 4)
    expect(tiny.reserve()).toBe(true);
    expect(tiny.reserve()).toBe(false);
    tiny.release();
    expect(tiny.inUse).toBe(0);
    expect(new SpliceBudget(Infinity).reserve()).toBe(true);

    const full = new SpliceBudget(24);
    full.reserve();
    const g = await rig();
    try {
      const r = new Relay(g.a, g.b, { splice: full, spliceOn: on });
      r.startAtoB();
      r.startBtoA();
      const atTarget = collect(g.target);
      const data = randomBytes(1 << 20);
      g.client.end(data);
      g.target.end();
      expect(sha(await atTarget)).toBe(sha(data));
      await r.done;
      expect(r.mode).toBe('js');
      expect(full.inUse).toBe(1);
    } finally {
      g.close();
    }
  });
});
