/**
 * The page-load benchmark's pages (src/pages.ts): the PNG writer byte by byte, and the two
 * pages' shape (requests, bytes, origins, protocols) as docs/lab.md states it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { png, writePages, PAGE2_ORIGINS } from '../src/pages';

/** Walks the chunks of a PNG, checking each CRC; returns them. */
function chunks(b: Buffer): Array<{ type: string; data: Buffer }> {
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out: Array<{ type: string; data: Buffer }> = [];
  let i = 8;
  while (i < b.length) {
    const len = b.readUInt32BE(i);
    const type = b.subarray(i + 4, i + 8).toString('latin1');
    const data = b.subarray(i + 8, i + 8 + len);
    const crc = b.readUInt32BE(i + 8 + len);
    expect(crc).toBe(crc32(b.subarray(i + 4, i + 8 + len)));
    out.push({ type, data });
    i += 12 + len;
  }
  expect(i).toBe(b.length);
  return out;
}

/** Reference CRC-32 (ISO-HDLC), bit by bit: independent of the table-driven one in pages.ts. */
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('png()', () => {
  test.each([100, 200, 3999, 4000, 15000, 61440])('%d bytes: exactly that size, valid chunks, pixels that inflate to the header size', (n) => {
    const b = png(`seed${n}`, n);
    expect(b.length).toBe(n);
    const cs = chunks(b);
    expect(cs[0].type).toBe('IHDR');
    expect(cs[cs.length - 1]).toEqual({ type: 'IEND', data: Buffer.alloc(0) });
    const w = cs[0].data.readUInt32BE(0);
    const h = cs[0].data.readUInt32BE(4);
    expect([...cs[0].data.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    const raw = zlib.inflateSync(Buffer.concat(cs.filter((c) => c.type === 'IDAT').map((c) => c.data)));
    expect(raw.length).toBe(h * (1 + 3 * w));
    for (let y = 0; y < h; y++) expect(raw[y * (1 + 3 * w)]).toBe(0);
  });

  test('the same seed gives the same bytes; another seed other bytes', () => {
    expect(png('a', 5000).equals(png('a', 5000))).toBe(true);
    expect(png('a', 5000).equals(png('b', 5000))).toBe(false);
  });
});

describe('writePages()', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rts-pages-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { page1, page2 } = writePages(dir);
  const files = (host: string): string[] => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (f: string) => out.push(f))(path.join(d, e.name));
    };
    walk(path.join(dir, host));
    return out;
  };

  test('page 1: one HTTP/1.1 origin, 41 requests, about 620 KB', () => {
    expect(page1.origins).toEqual([{ host: 'page1.lab', addr: '198.51.100.10', tls: false, http: 'h1' }]);
    expect(page1.url).toBe('http://page1.lab:8080/index.html');
    expect(page1.requests).toBe(41);
    expect(files('page1.lab')).toHaveLength(41);
    expect(page1.bytes).toBeGreaterThan(580e3);
    expect(page1.bytes).toBeLessThan(640e3);
  });

  test('page 2: 12 HTTPS origins on distinct addresses, h2 and h1 mixed, 71 requests, about 2 MB', () => {
    expect(page2.origins).toBe(PAGE2_ORIGINS);
    expect(new Set(page2.origins.map((o) => o.addr)).size).toBe(12);
    expect(page2.origins.every((o) => o.tls)).toBe(true);
    expect(page2.origins.filter((o) => o.http === 'h2')).toHaveLength(7);
    expect(page2.requests).toBe(71);
    const all = page2.origins.flatMap((o) => files(o.host));
    expect(all).toHaveLength(71);
    const total = all.reduce((a, f) => a + fs.statSync(f).size, 0);
    expect(total).toBe(page2.bytes);
    expect(total).toBeGreaterThan(1.9e6);
    expect(total).toBeLessThan(2.2e6);
  });

  test('the HTML names every first-party resource; injecting scripts name the rest', () => {
    const html = fs.readFileSync(path.join(dir, 'www.lab/index.html'), 'utf8');
    expect(html).toContain('<script async src="https://tags.lab/gtm.js"></script>');
    expect(html).toContain('<link rel="preload" as="font" type="font/woff2" crossorigin href="https://fonts.lab/font0.woff2">');
    expect(html).not.toContain('analytics.lab');
    const gtm = fs.readFileSync(path.join(dir, 'tags.lab/gtm.js'), 'utf8');
    expect(gtm.startsWith('(function(){{const s=document.createElement(\'script\');s.src="https://analytics.lab/analytics.js"')).toBe(true);
    expect(gtm.length).toBe(8 * 1024);
    // the filler stays inside one comment
    expect(gtm.indexOf('*/')).toBe(gtm.length - 3);
  });
});
