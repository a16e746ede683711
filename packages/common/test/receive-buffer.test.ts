/**
 * The one receive buffer: its storage (push/peek/consume/take/drain, byte-exact across growth and
 * compaction) and, bound to a real loopback socket, read() of split and coalesced messages,
 * wait(), flow control past pauseAt, EOF/error/timeout/too-long, and detach().
 */
import * as net from 'node:net';
import { ReceiveBuffer, ReceiveError, parseMethodSelection, parseReply } from '@mptcp-proxy/common';

/** outer = the peer, inner = our side (accepted paused, as the daemons accept). */
async function pair(): Promise<{ outer: net.Socket; inner: net.Socket; close(): void }> {
  const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const outer = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const inner = await accepted;
  srv.close();
  outer.on('error', () => undefined);
  inner.on('error', () => undefined);
  return { outer, inner, close: () => (outer.destroy(), inner.destroy()) };
}

const writeSplit = async (s: net.Socket, bytes: number[]): Promise<void> => {
  s.setNoDelay(true);
  for (const b of bytes) {
    await new Promise<void>((r) => s.write(Buffer.from([b]), () => r()));
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('storage', () => {
  test('push / peek / consume / take across growth and compaction', () => {
    const q = new ReceiveBuffer();
    const ref: number[] = [];
    let seed = 1;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let round = 0; round < 600; round++) {
      const chunk = Buffer.alloc(rnd(700), 0);
      for (let i = 0; i < chunk.length; i++) chunk[i] = rnd(256);
      q.push(chunk);
      ref.push(...chunk);
      expect(q.length).toBe(ref.length);
      const n = rnd(q.length + 1);
      if (round % 3 === 0) {
        expect([...q.take(n)]).toEqual(ref.splice(0, n));
      } else {
        expect([...q.peek(n)]).toEqual(ref.slice(0, n));
        q.consume(n);
        ref.splice(0, n);
      }
    }
    expect([...q.drain()]).toEqual(ref);
    expect(q.length).toBe(0);
    expect(() => q.consume(1)).toThrow(RangeError);
  });

  test('an adopted chunk is copied before appending; drain() hands out a buffer the storage no longer writes', () => {
    const q = new ReceiveBuffer();
    const first = Buffer.from('abc');
    q.push(first);
    q.push(Buffer.from('def'));
    expect(q.peek().toString()).toBe('abcdef');
    expect(first.toString()).toBe('abc');
    const out = q.drain();
    q.push(Buffer.from('XYZXYZ'));
    expect(out.toString()).toBe('abcdef');
    expect(q.peek().toString()).toBe('XYZXYZ');
  });

  test('unshift puts bytes back in front', () => {
    const q = new ReceiveBuffer();
    q.push(Buffer.from('cd'));
    q.unshift(Buffer.from('ab'));
    expect(q.drain().toString()).toBe('abcd');
  });
});

describe('on a socket', () => {
  test('read(): messages split into 1-byte segments and coalesced with stream data', async () => {
    const p = await pair();
    const rb = new ReceiveBuffer(p.inner);
    await writeSplit(p.outer, [5, 0xa5]);
    expect((await rb.read(parseMethodSelection)).method).toBe(0xa5);
    // a reply and the first downstream bytes in one segment
    p.outer.write(Buffer.from([5, 0, 0, 1, 10, 0, 0, 1, 0, 80, ...Buffer.from('HTTP/1.1')]));
    const rep = await rb.read(parseReply);
    expect([rep.rep, rep.address.host, rep.address.port]).toEqual([0, '10.0.0.1', 80]);
    await new Promise((r) => setTimeout(r, 20));
    expect(rb.detach().toString()).toBe('HTTP/1.1');
    expect(p.inner.listenerCount('data')).toBe(0);
    expect(p.inner.isPaused()).toBe(true);
    p.close();
  });

  test('read({consume: false}) leaves the message for the next owner', async () => {
    const p = await pair();
    const rb = new ReceiveBuffer(p.inner);
    p.outer.write(Buffer.from([5, 2]));
    expect((await rb.read(parseMethodSelection, { consume: false })).method).toBe(2);
    expect([...rb.detach()]).toEqual([5, 2]);
    p.close();
  });

  test('read() rejects: EOF mid-message, a silent peer, too many bytes, a parse error', async () => {
    let p = await pair();
    let rb = new ReceiveBuffer(p.inner);
    p.outer.end(Buffer.from([5, 0, 0]));
    await expect(rb.read(parseReply)).rejects.toMatchObject({ code: 'EPEER_EOF', message: "Can't get expected amount of data" });
    expect([...rb.peek()]).toEqual([5, 0, 0]);
    p.close();

    p = await pair();
    rb = new ReceiveBuffer(p.inner);
    const t0 = Date.now();
    await expect(rb.read(parseReply, { timeoutMs: 100 })).rejects.toBeInstanceOf(ReceiveError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    p.close();

    p = await pair();
    rb = new ReceiveBuffer(p.inner);
    p.outer.write('x'.repeat(100));
    await expect(rb.read(() => null, { maxBytes: 64 })).rejects.toMatchObject({ code: 'EPEER_TOOLONG' });
    p.close();

    p = await pair();
    rb = new ReceiveBuffer(p.inner);
    p.outer.write(Buffer.from([4, 0]));
    await expect(rb.read(parseMethodSelection)).rejects.toMatchObject({ code: 'ESOCKS_VERSION' });
    p.close();
  });

  test('read() rejects with the socket error', async () => {
    const p = await pair();
    const rb = new ReceiveBuffer(p.inner);
    const pending = rb.read(parseReply);
    p.outer.resetAndDestroy();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
    p.close();
  });

  test('wait() and drain(): what arrives before the tunnel, in order, and FIN', async () => {
    const p = await pair();
    const early = new ReceiveBuffer(p.inner, { pauseAt: 64 * 1024 });
    p.outer.write('abc');
    await early.wait(5000);
    p.outer.end('def');
    let got = '';
    while (!early.ended) {
      got += early.drain().toString();
      await early.wait(5000);
    }
    got += early.drain().toString();
    expect(got).toBe('abcdef');
    expect(early.ended).toBe(true);
    p.close();
  });

  test('wait() gives up after its time', async () => {
    const p = await pair();
    const rb = new ReceiveBuffer(p.inner);
    const t0 = Date.now();
    await rb.wait(50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(rb.length).toBe(0);
    p.close();
  });

  test('pauseAt: past the limit the socket is paused, and no byte is lost', async () => {
    const p = await pair();
    const limit = 16 * 1024;
    const early = new ReceiveBuffer(p.inner, { pauseAt: limit });
    const total = 4 * 1024 * 1024;
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i++) payload[i] = i % 251;
    p.outer.end(payload);
    // the sender cannot finish while we hold only `limit` + one chunk
    await early.wait(5000);
    await new Promise((r) => setImmediate(r));
    expect(early.length).toBeLessThanOrEqual(limit + 65536);
    expect(p.inner.isPaused()).toBe(true);
    const parts: Buffer[] = [];
    while (!early.ended || early.length > 0) {
      parts.push(early.drain());
      await early.wait(5000);
    }
    const got = Buffer.concat(parts);
    expect(got.length).toBe(total);
    expect(got.equals(payload)).toBe(true);
    p.close();
  });

  test('failed: an error, or a close (also after FIN)', async () => {
    const p = await pair();
    const rb = new ReceiveBuffer(p.inner);
    expect(rb.failed).toBeUndefined();
    p.outer.end();
    await rb.wait(5000);
    expect([rb.ended, rb.failed]).toEqual([true, undefined]);
    p.inner.destroy();
    await new Promise((r) => p.inner.once('close', r));
    expect(rb.failed?.message).toBe('client closed');
    p.close();
  });
});
