import { randomBytes } from 'node:crypto';
import { Relay, RelayError, pipe, relay, startPipe } from '@mptcp-proxy/common';
import { collect, rig, sha } from './helpers/loopback';
import { waitFor } from '@mptcp-proxy/lab';

describe('relay on loopback', () => {
  test('bulk transfer both directions is byte-exact', async () => {
    const r = await rig();
    try {
      const up = randomBytes(6 * 1024 * 1024 + 13);
      const down = randomBytes(5 * 1024 * 1024 + 7);
      const counted = { aToB: 0, bToA: 0 };
      const done = relay(r.a, r.b, { onBytes: (d, n) => (counted[d] += n) });
      const gotAtTarget = collect(r.target);
      const gotAtClient = collect(r.client);
      r.client.end(up);
      r.target.end(down);
      const [t, c, res] = await Promise.all([gotAtTarget, gotAtClient, done]);
      expect(sha(t)).toBe(sha(up));
      expect(sha(c)).toBe(sha(down));
      expect(res).toEqual({ aToB: up.length, bToA: down.length });
      expect(counted).toEqual(res);
      expect(r.a.destroyed && r.b.destroyed).toBe(true);
    } finally {
      r.close();
    }
  });

  test('half-close: client ends first, target keeps sending', async () => {
    const r = await rig();
    try {
      const done = relay(r.a, r.b);
      const gotAtClient = collect(r.client);
      const gotAtTarget = collect(r.target);
      r.client.end('request');
      expect((await gotAtTarget).toString()).toBe('request');
      // the target's read side is closed, its write side still works through the relay
      const reply = randomBytes(2 * 1024 * 1024);
      r.target.end(reply);
      expect(sha(await gotAtClient)).toBe(sha(reply));
      expect(await done).toEqual({ aToB: 7, bToA: reply.length });
    } finally {
      r.close();
    }
  });

  test('half-close: target ends first, client keeps sending', async () => {
    const r = await rig();
    try {
      const done = relay(r.a, r.b);
      const gotAtClient = collect(r.client);
      const gotAtTarget = collect(r.target);
      r.target.end('banner');
      expect((await gotAtClient).toString()).toBe('banner');
      const upload = randomBytes(3 * 1024 * 1024);
      r.client.end(upload);
      expect(sha(await gotAtTarget)).toBe(sha(upload));
      expect(await done).toEqual({ aToB: upload.length, bToA: 6 });
    } finally {
      r.close();
    }
  });

  test('backpressure: a slow reader pauses the source and bounds buffered memory', async () => {
    const r = await rig();
    try {
      r.target.pause();
      let maxBuffered = 0;
      let maxChunk = 0;
      const rel = new Relay(r.a, r.b, {
        onBytes: (_d, n) => {
          maxChunk = Math.max(maxChunk, n);
          maxBuffered = Math.max(maxBuffered, r.b.writableLength);
        },
      });
      rel.startAtoB();
      rel.startBtoA();
      const total = 48 * 1024 * 1024;
      const payload = randomBytes(total);
      r.client.end(payload);
      // the relay must stop reading from `a` once `b` stops draining
      await waitFor(() => r.a.isPaused() && r.b.writableLength > 0, 10000, 'source paused');
      const stalledAt = rel.aToB;
      expect(stalledAt).toBeLessThan(total);
      expect(r.b.writableLength).toBeLessThanOrEqual(r.b.writableHighWaterMark + maxChunk);
      expect(maxBuffered).toBeLessThanOrEqual(r.b.writableHighWaterMark + maxChunk);
      const got = collect(r.target);
      r.target.resume();
      r.target.end();
      expect(sha(await got)).toBe(sha(payload));
      expect(await rel.done).toEqual({ aToB: total, bToA: 0 });
      expect(maxBuffered).toBeLessThanOrEqual(r.b.writableHighWaterMark + maxChunk);
    } finally {
      r.close();
    }
  });

  test('a reset on one side tears down both and reports the side', async () => {
    const r = await rig();
    try {
      const done = relay(r.a, r.b);
      // the client sees the proxy side go away (EOF or reset)
      const clientClosed = new Promise<void>((res) => {
        r.client.once('end', () => res());
        r.client.once('close', () => res());
      });
      r.client.on('error', () => undefined);
      const first = new Promise((res) => r.target.once('data', res));
      r.client.write('x');
      await first;
      r.target.resetAndDestroy();
      const err = (await done.catch((e: unknown) => e)) as RelayError;
      expect(err).toBeInstanceOf(RelayError);
      expect(err.code).toBe('ERELAY_SOCKET');
      expect(err.side).toBe('b');
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
      expect(err.aToB).toBe(1);
      await clientClosed;
      expect(r.a.destroyed && r.b.destroyed).toBe(true);
    } finally {
      r.close();
    }
  });

  test('idle timeout destroys both sockets', async () => {
    const r = await rig();
    try {
      const done = relay(r.a, r.b, { idleTimeoutMs: 150 });
      const clientSawEof = collect(r.client);
      const targetSawEof = collect(r.target);
      const err = (await done.catch((e: unknown) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_IDLE');
      expect((await clientSawEof).length).toBe(0);
      expect((await targetSawEof).length).toBe(0);
    } finally {
      r.close();
    }
  });

  test('abort() tears down and rejects ERELAY_ABORTED', async () => {
    const r = await rig();
    try {
      const rel = new Relay(r.a, r.b);
      rel.startAtoB();
      rel.abort(new Error('shutdown'));
      const err = (await rel.done.catch((e: unknown) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_ABORTED');
      expect(r.a.destroyed && r.b.destroyed).toBe(true);
    } finally {
      r.close();
    }
  });

  test('b->a can start later with a head; bytes and order are kept', async () => {
    const r = await rig();
    try {
      const rel = new Relay(r.a, r.b);
      const copy: Buffer[] = [];
      rel.startAtoB(undefined, { tap: (c) => copy.push(c) });
      const gotAtTarget = collect(r.target);
      const gotAtClient = collect(r.client);
      r.client.end('early data');
      // downstream data arrives before b->a is started; it must wait in the socket
      r.target.write('-tail');
      r.target.end();
      expect((await gotAtTarget).toString()).toBe('early data');
      expect(Buffer.concat(copy).toString()).toBe('early data');
      await waitFor(() => r.b.readableLength > 0 || r.b.readableEnded || r.b.bytesRead > 0, 10000, 'downstream bytes');
      expect(rel.bToAStarted).toBe(false);
      rel.startBtoA(Buffer.from('HEAD'));
      expect((await gotAtClient).toString()).toBe('HEAD-tail');
      expect(await rel.done).toEqual({ aToB: 10, bToA: 9 });
    } finally {
      r.close();
    }
  });
});

describe('pipe on loopback', () => {
  test('one direction ends dst on EOF without touching the other direction', async () => {
    const r = await rig();
    try {
      const gotAtTarget = collect(r.target);
      const p = pipe(r.a, r.b);
      r.client.end('one way');
      expect(await p).toEqual({ bytes: 7 });
      expect((await gotAtTarget).toString()).toBe('one way');
      expect(r.a.destroyed).toBe(false);
      expect(r.b.destroyed).toBe(false);
      // the reverse direction is still usable
      const back = new Promise<string>((res) => r.client.once('data', (c: Buffer) => res(c.toString())));
      r.b.on('data', (c: Buffer) => r.a.write(c));
      r.target.write('back');
      expect(await back).toBe('back');
    } finally {
      r.close();
    }
  });

  test('stop() detaches and leaves the source paused', async () => {
    const r = await rig();
    try {
      const gotAtTarget: Buffer[] = [];
      r.target.on('data', (c: Buffer) => gotAtTarget.push(c));
      const p = startPipe(r.a, r.b);
      r.client.write('abc');
      await waitFor(() => Buffer.concat(gotAtTarget).length === 3, 10000, 'abc');
      p.stop();
      expect(await p.done).toEqual({ bytes: 3, stopped: true });
      expect(r.a.isPaused()).toBe(true);
      r.client.write('def');
      // bytes after stop() stay in `a` for the new owner
      await waitFor(() => r.a.readableLength === 3, 10000, 'def buffered in a');
      expect(r.a.read(3).toString()).toBe('def');
    } finally {
      r.close();
    }
  });

  test('a destroyed destination rejects ERELAY_CLOSED', async () => {
    const r = await rig();
    try {
      const p = pipe(r.a, r.b);
      r.b.destroy();
      const err = (await p.catch((e: unknown) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_CLOSED');
      expect(err.side).toBe('dst');
    } finally {
      r.close();
    }
  });

  test('pipe idle timeout', async () => {
    const r = await rig();
    try {
      const err = (await pipe(r.a, r.b, { idleTimeoutMs: 100 }).catch((e: unknown) => e)) as RelayError;
      expect(err.code).toBe('ERELAY_IDLE');
    } finally {
      r.close();
    }
  });
});
