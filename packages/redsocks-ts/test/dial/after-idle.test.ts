/**
 * How a pooled connection's first bytes are cut after it idled (src/dial/after-idle.ts;
 * docs/optimistic-connect.md, "Warm pool"): one small leading piece per subflow, the first one
 * as large as allowed, then the rest; the bytes themselves never change.
 */
import * as net from 'node:net';
import { waitFor } from '@mptcp-proxy/lab';
import { AFTER_IDLE_FIRST, AFTER_IDLE_PIECE, afterIdlePieces, writeAfterIdle } from '../../src/dial/after-idle';

const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
const sizes = (data: Buffer, subflows: number): number[] => afterIdlePieces(data, subflows).map((b) => b.length);

test('one subflow: the first piece holds up to AFTER_IDLE_FIRST bytes, the rest follows in one', () => {
  expect(AFTER_IDLE_FIRST).toBe(256);
  expect(AFTER_IDLE_PIECE).toBe(32);
  expect(sizes(bytes(19), 1)).toEqual([19]);
  expect(sizes(bytes(256), 1)).toEqual([256]);
  expect(sizes(bytes(300), 1)).toEqual([256, 44]);
  expect(sizes(bytes(70000), 1)).toEqual([256, 69744]);
});

test('n subflows: n small leading pieces, the later ones at most AFTER_IDLE_PIECE bytes', () => {
  expect(sizes(bytes(1000), 2)).toEqual([256, 32, 712]);
  expect(sizes(bytes(1000), 3)).toEqual([256, 32, 32, 680]);
  expect(sizes(bytes(300), 2)).toEqual([256, 32, 12]);
  expect(sizes(bytes(288), 2)).toEqual([256, 32]);
});

test('short data: still one piece per subflow while there is a byte for each', () => {
  // a SOCKS5 greeting (3) + IPv4 CONNECT (10) and no early data
  expect(sizes(bytes(13), 2)).toEqual([12, 1]);
  expect(sizes(bytes(100), 2)).toEqual([99, 1]);
  expect(sizes(bytes(3), 3)).toEqual([1, 1, 1]);
  expect(sizes(bytes(2), 3)).toEqual([1, 1]);
  expect(sizes(bytes(1), 2)).toEqual([1]);
  expect(sizes(bytes(0), 2)).toEqual([]);
  // no subflow count known: one
  expect(sizes(bytes(13), 0)).toEqual([13]);
});

test('the pieces are the data, in order, without copies', () => {
  for (const [len, n] of [[1000, 3], [13, 2], [300, 1], [5, 5]] as const) {
    const data = bytes(len);
    const pieces = afterIdlePieces(data, n);
    expect(Buffer.concat(pieces).equals(data)).toBe(true);
    for (const p of pieces) expect(p.buffer).toBe(data.buffer);
  }
});

test('writeAfterIdle over a real socket: every byte arrives in order (plain TCP counts as one subflow)', async () => {
  const got: Buffer[] = [];
  const server = net.createServer((c) => c.on('data', (d) => got.push(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', r));
  s.setNoDelay(true);
  const data = bytes(5000);
  await writeAfterIdle(s, s, data);
  await waitFor(() => Buffer.concat(got).length >= data.length, 5000, 'every byte at the server');
  expect(Buffer.concat(got).equals(data)).toBe(true);
  s.destroy();
  await new Promise((r) => server.close(r));
});
