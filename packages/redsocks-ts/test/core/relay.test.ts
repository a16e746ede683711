import * as net from 'node:net';
import { Relay } from '@mptcp-proxy/common';
import { lanPair } from '../helpers/upstream';

function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
  });
}

/** The relay contract the core relies on (common's Relay, as client.ts drives it). */
describe('relay', () => {
  test('half-close travels both ways: client FIN first, then the upstream answers and FINs', async () => {
    const a = await lanPair(); // a.app = LAN client, a.client = accepted
    const b = await lanPair(); // b.client = "upstream" socket held by redsocks, b.app = proxy side
    const eofs: string[] = [];
    let doneErr: unknown = 'not done';
    const r = new Relay(a.client, b.client);
    r.startAtoB(Buffer.from('early:')).done.then(() => eofs.push('client'));
    r.startBtoA().done.then(() => eofs.push('relay'));
    r.done.then(() => (doneErr = undefined), (e) => (doneErr = e));
    const atProxy = readAll(b.app);
    a.app.end('request');
    expect((await atProxy).toString()).toBe('early:request');
    // the client's write half is closed, its read half still works
    const atClient = readAll(a.app);
    b.app.end('response');
    expect((await atClient).toString()).toBe('response');
    while (doneErr === 'not done') await new Promise((r) => setTimeout(r, 10));
    expect(eofs).toEqual(['client', 'relay']);
    expect(doneErr).toBeUndefined();
    a.close();
    b.close();
  });

  test('backpressure: a reader that does not read stops the sender; data arrives intact later', async () => {
    const a = await lanPair();
    const b = await lanPair();
    const r = new Relay(a.client, b.client);
    r.startAtoB();
    r.startBtoA();
    b.app.pause(); // the proxy side reads nothing
    const total = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let written = 0;
    let blocked = false;
    while (written < total) {
      written += chunk.length;
      if (!a.app.write(chunk)) {
        blocked = true;
        break;
      }
    }
    expect(blocked).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    // the relay holds at most about one read chunk plus the socket's write buffer
    expect(b.client.writableLength).toBeLessThanOrEqual(1024 * 1024);
    let got = 0;
    const all = new Promise<void>((resolve) => {
      b.app.on('data', (d) => {
        got += d.length;
        if (got >= written) resolve();
      });
    });
    b.app.resume();
    await all;
    expect(got).toBe(written);
    a.close();
    b.close();
  });
});
