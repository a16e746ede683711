import { EarlyDataBuffer } from '../../src/core/early-data';
import { socketPair } from '../helpers/loopback';

describe('EarlyDataBuffer', () => {
  test('buffers what arrives before the tunnel, in order, and reports FIN', async () => {
    const p = await socketPair();
    const early = new EarlyDataBuffer(p.inner);
    p.outer.write('abc');
    await early.wait(5000);
    p.outer.end('def');
    let got = '';
    while (!early.ended) {
      got += early.take().toString();
      await early.wait(5000);
    }
    got += early.take().toString();
    expect(got).toBe('abcdef');
    expect(early.ended).toBe(true);
    p.close();
  });

  test('bounded: past the limit the socket is paused, and no byte is lost', async () => {
    const p = await socketPair();
    const limit = 16 * 1024;
    const early = new EarlyDataBuffer(p.inner, limit);
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
      parts.push(early.take());
      await early.wait(5000);
    }
    const got = Buffer.concat(parts);
    expect(got.length).toBe(total);
    expect(got.equals(payload)).toBe(true);
    p.close();
  });

  test('detach returns the rest and stops listening', async () => {
    const p = await socketPair();
    const early = new EarlyDataBuffer(p.inner);
    p.outer.write('xyz');
    await early.wait(5000);
    expect(early.detach().toString()).toBe('xyz');
    expect(p.inner.listenerCount('data')).toBe(0);
    p.close();
  });
});
