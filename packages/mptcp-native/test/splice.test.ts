import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fdKinds } from '@mptcp-proxy/lab';
import * as net from 'node:net';
import { connect as mpConnect, fdOf, isMptcp, listen as mpListen, spliceRelay, spliceStatus } from 'mptcp-native';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** A server whose accepted sockets Node never reads from (pauseOnConnect), so the fd is ours. */
async function pausedServer(): Promise<{ srv: net.Server; port: number; next(): Promise<net.Socket> }> {
  const queue: net.Socket[] = [];
  const waiters: Array<(s: net.Socket) => void> = [];
  const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  return {
    srv,
    port: (srv.address() as net.AddressInfo).port,
    next: () => new Promise((res) => (queue.length ? res(queue.shift()!) : waiters.push(res))),
  };
}

/** client <-> a and target <-> b: two accepted (paused) sockets for the kernel relay. */
async function socketPairs(p: { port: number; next(): Promise<net.Socket> }): Promise<{ client: net.Socket; a: net.Socket; target: net.Socket; b: net.Socket }> {
  const client = await dial(p.port);
  const a = await p.next();
  const target = await dial(p.port);
  const b = await p.next();
  return { client, a, target, b };
}

function dial(port: number): Promise<net.Socket> {
  return new Promise((res, rej) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => res(s));
    s.once('error', rej);
  });
}

function collect(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((res, rej) => {
    s.once('end', () => res(Buffer.concat(parts)));
    s.once('error', rej);
  });
}

type Done = { err: NodeJS.ErrnoException | null; aToB: number; bToA: number; first: string | null; fds: number };

function run(fdA: number, fdB: number, on: 'loop' | 'thread' = 'loop'): { handle: ReturnType<typeof spliceRelay>; done: Promise<Done> } {
  let handle!: ReturnType<typeof spliceRelay>;
  const done = new Promise<Done>((res) => {
    handle = spliceRelay(fdA, fdB, (err, aToB, bToA, first) => res({ err, aToB, bToA, first, fds: fdCount() }), { on });
  });
  return { handle, done };
}

/** Waits until `cond` holds (the relay thread publishes its counters a moment after the bytes). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
}

test('the splice addon is loaded', () => {
  expect(spliceStatus()).toEqual({ loaded: true });
});

describe.each(['loop', 'thread'] as const)('spliceRelay on the %s', (on) => {
  // The relay thread's epoll fd and eventfd open with its first relay: out of the fd counts below.
  beforeAll(async () => {
    const p = await pausedServer();
    const { client, a, target, b } = await socketPairs(p);
    const { handle, done } = run(fdOf(a), fdOf(b), on);
    handle.shutdown();
    await done;
    for (const s of [client, target, a, b]) s.destroy();
    p.srv.close();
  });

  test('spliceRelay moves bytes both ways, half-closes, and releases its fds before calling back', async () => {
    const p = await pausedServer();
    try {
      const { client, a, target, b } = await socketPairs(p);
      const base = fdKinds();
      const { handle, done } = run(fdOf(a), fdOf(b), on);
      // 2 dup'd sockets + 2 pipes (the thread's may come from its pool of empty pipes)
      expect(fdKinds().sockets).toBe(base.sockets + 2);
      if (on === 'loop') expect(fdKinds().pipes).toBe(base.pipes + 4);
      const up = randomBytes(16 << 20);
      const down = randomBytes(3 << 20);
      const atTarget = collect(target);
      const atClient = collect(client);
      client.end(up);
      expect(sha(await atTarget)).toBe(sha(up));
      await until(() => handle.stats()?.aToBDone === true);
      expect(handle.stats()).toMatchObject({ aToB: up.length, aToBDone: true, bToADone: false });
      target.end(down);
      expect(sha(await atClient)).toBe(sha(down));
      const r = await done;
      expect(r).toMatchObject({ err: null, aToB: up.length, bToA: down.length, first: 'aToB' });
      expect(fdKinds().sockets).toBeLessThanOrEqual(base.sockets);
      if (on === 'loop') expect(fdKinds().pipes).toBe(base.pipes);
      expect(handle.stats()).toBeNull();
      for (const s of [client, target, a, b]) s.destroy();
    } finally {
      p.srv.close();
    }
  });

  test('shutdown() stops the relay and still calls back once, with no error', async () => {
    const p = await pausedServer();
    try {
      const { client, a, target, b } = await socketPairs(p);
      const base = fdCount();
      const { handle, done } = run(fdOf(a), fdOf(b), on);
      handle.shutdown();
      handle.shutdown();
      // the main-loop relay closes at once; the thread closes before it calls back
      if (on === 'loop') expect(fdCount()).toBe(base);
      const r = await done;
      expect(r).toMatchObject({ err: null, aToB: 0, bToA: 0, first: null });
      // the thread's two empty pipes went to its pool
      if (on === 'loop') expect(r.fds).toBe(base);
      else expect(r.fds).toBeLessThanOrEqual(base + 4);
      for (const s of [client, target, a, b]) s.destroy();
    } finally {
      p.srv.close();
    }
  });

  test('a reset peer is reported as a Node-style errno error naming its side', async () => {
    const p = await pausedServer();
    try {
      const { client, a, target, b } = await socketPairs(p);
      const { done } = run(fdOf(a), fdOf(b), on);
      client.on('error', () => undefined);
      target.resetAndDestroy();
      const r = await done;
      expect(r.err).not.toBeNull();
      expect(r.err!.code).toMatch(/ECONNRESET|EPIPE/);
      expect(r.err!.syscall).toBe('splice');
      expect((r.err as { side?: string }).side).toBe('b');
      for (const s of [client, a, b]) s.destroy();
    } finally {
      p.srv.close();
    }
  });

  test('a bad fd throws EBADF synchronously and leaks nothing', () => {
    const base = fdCount();
    expect(() => spliceRelay(987654, 987655, () => undefined, { on })).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'dup' }));
    expect(fdCount()).toBe(base);
  });

  test('an MPTCP socket spliced to a plain TCP socket', async () => {
    const p = await pausedServer();
    const accepted: net.Socket[] = [];
    const m = await mpListen({ host: '127.0.0.1', port: 0, mptcp: 'on' }, (s) => {
      s.pause();
      accepted.push(s);
    });
    try {
      const client = await mpConnect({ host: '127.0.0.1', port: (m.address() as net.AddressInfo).port, mptcp: 'on' });
      client.allowHalfOpen = true;
      const target = await dial(p.port);
      const b = await p.next();
      for (let i = 0; i < 500 && accepted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      const a = accepted[0];
      expect(isMptcp(a)).toBe(true);
      // The accepted MPTCP socket was read-started by net before pause(); stop libuv too.
      (a as unknown as { _handle: { readStop(): void } })._handle.readStop();
      const { done } = run(fdOf(a), fdOf(b), on);
      const up = randomBytes(8 << 20);
      const down = randomBytes(2 << 20);
      const atTarget = collect(target);
      const atClient = collect(client);
      client.end(up);
      target.end(down);
      expect(sha(await atTarget)).toBe(sha(up));
      expect(sha(await atClient)).toBe(sha(down));
      const r = await done;
      expect(r.err).toBeNull();
      expect([r.aToB, r.bToA]).toEqual([up.length, down.length]);
      for (const s of [client, target, a, b]) s.destroy();
    } finally {
      p.srv.close();
      m.close();
    }
  });

  test('pipes start at the kernel default and grow to the requested size only once they fill', async () => {
    const p = await pausedServer();
    try {
      const { client, a, target, b } = await socketPairs(p);
      let handle!: ReturnType<typeof spliceRelay>;
      const done = new Promise<NodeJS.ErrnoException | null>((res) => {
        handle = spliceRelay(fdOf(a), fdOf(b), (err) => res(err), { pipeSize: 1 << 20, on });
      });
      // A short exchange never fills a pipe.
      const atTarget = collect(target);
      client.write('x');
      await new Promise<void>((res) => target.once('data', () => res()));
      await until(() => handle.stats()?.aToB === 1);
      expect(handle.stats()).toMatchObject({ aToB: 1, aToBPipe: 65536, bToAPipe: 65536 });
      // A reader that stops: the a->b pipe fills and grows (root: no pipe-user-pages limit).
      target.pause();
      const up = randomBytes(32 << 20);
      client.end(up);
      for (let i = 0; i < 2000 && handle.stats()!.aToBPipe === 65536; i++) await new Promise((r) => setTimeout(r, 5));
      expect(handle.stats()).toMatchObject({ aToBPipe: 1 << 20, bToAPipe: 65536 });
      target.resume();
      const got = await atTarget;
      expect(got.length).toBe(1 + up.length);
      expect(sha(got.subarray(1))).toBe(sha(up));
      target.end();
      expect(await done).toBeNull();
      for (const s of [client, target, a, b]) s.destroy();
    } finally {
      p.srv.close();
    }
  });

  if (on === 'thread') {
    test('the thread keeps at most 64 empty pipes for its next relays, and reuses them', async () => {
      const p = await pausedServer();
      try {
        const batch = async (): Promise<void> => {
          const pairs: Array<Awaited<ReturnType<typeof socketPairs>>> = [];
          for (let i = 0; i < 40; i++) pairs.push(await socketPairs(p));
          const runs = pairs.map(({ a, b }) => run(fdOf(a), fdOf(b), on));
          for (const { client, target } of pairs) {
            client.end('x');
            target.end('y');
          }
          for (const r of runs) expect((await r.done).err).toBeNull();
          for (const s of pairs.flatMap((x) => [x.client, x.target, x.a, x.b])) s.destroy();
        };
        const before = fdKinds().pipes;
        await batch();
        const pooled = fdKinds().pipes - before;
        expect(pooled).toBeGreaterThan(0);
        expect(pooled).toBeLessThanOrEqual(128);
        await batch();
        await batch();
        expect(fdKinds().pipes - before).toBe(pooled);
      } finally {
        p.srv.close();
      }
    });

    test('the caller closes its own sockets at once: the connection lives on in the thread', async () => {
      const p = await pausedServer();
      try {
        const { client, a, target, b } = await socketPairs(p);
        const base = fdKinds();
        const { handle, done } = run(fdOf(a), fdOf(b), on);
        a.destroy();
        b.destroy();
        await new Promise((r) => setImmediate(r));
        // Node's two fds are gone; the thread holds the 2 dups (and 2 pipes).
        expect(fdKinds().sockets).toBe(base.sockets);
        const up = randomBytes(4 << 20);
        const down = randomBytes(1 << 20);
        const atTarget = collect(target);
        const atClient = collect(client);
        client.write(up.subarray(0, 1000));
        // half-close one way while the other still flows
        target.end(down);
        expect(sha(await atClient)).toBe(sha(down));
        client.end(up.subarray(1000));
        expect(sha(await atTarget)).toBe(sha(up));
        const r = await done;
        expect(r).toMatchObject({ err: null, aToB: up.length, bToA: down.length, first: 'bToA' });
        // a, b, and by now the half-open client and target (both ends done) are closed too
        expect(fdKinds().sockets).toBeLessThanOrEqual(base.sockets - 2);
        expect(handle.stats()).toBeNull();
        for (const s of [client, target]) s.destroy();
      } finally {
        p.srv.close();
      }
    });
  }
});
