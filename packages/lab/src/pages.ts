/**
 * The page-load benchmark's two pages (docs/lab.md, "Page-load benchmark"), generated into a
 * directory per origin for nginx to serve:
 *
 * 1. `page1`: one origin over HTTP/1.1, 1 HTML + 40 objects (about 620 KB): 4 stylesheets,
 *    6 scripts, 30 images.
 * 2. `page2`: a realistic page after the HTTP Archive's median page: 71 requests, about 2 MB,
 *    12 origins over HTTPS, HTTP/2 and HTTP/1.1 mixed. Third-party scripts add requests to
 *    further origins when they run, so new origins keep appearing while the page loads (tag
 *    manager -> analytics -> pixels, ad script -> ad images, app script -> API scripts).
 *
 * Bodies are deterministic and incompressible (nginx does not compress them either), so the
 * bytes on the wire are the sizes below in every run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';

export type HttpVersion = 'h1' | 'h2';

export interface Origin {
  /** Host name the page uses (resolved by the browser's resolver rules to `addr`). */
  host: string;
  addr: string;
  /** `h1` over plain HTTP for page 1; HTTPS with or without HTTP/2 for page 2. */
  tls: boolean;
  http: HttpVersion;
}

type Kind = 'css' | 'js' | 'img' | 'font';

interface Resource {
  origin: string;
  path: string;
  kind: Kind;
  bytes: number;
  /** Resources this script adds to the document when it runs (its own requests). */
  injects?: Resource[];
  /** How the HTML references a script: in order, deferred or async. */
  load?: 'sync' | 'defer' | 'async';
}

export interface Page {
  name: string;
  url: string;
  origins: Origin[];
  /** Every request of the page, the HTML included. */
  requests: number;
  bytes: number;
}

const MIME: Record<Kind, string> = { css: 'text/css', js: 'application/javascript', img: 'image/png', font: 'font/woff2' };
export const MIME_TYPES: Record<string, string> = { html: 'text/html', css: MIME.css, js: MIME.js, png: MIME.img, woff2: MIME.font };
const EXT: Record<Kind, string> = { css: 'css', js: 'js', img: 'png', font: 'woff2' };

/** Origins of the pages: distinct addresses on the origin namespace, so each gets its own connections. */
export const PAGE1_ORIGIN: Origin = { host: 'page1.lab', addr: '198.51.100.10', tls: false, http: 'h1' };
const P2: Array<[string, HttpVersion]> = [
  ['www', 'h2'], ['static', 'h2'], ['cdn', 'h2'], ['fonts', 'h2'], ['img', 'h1'], ['media', 'h1'],
  ['api', 'h2'], ['ads', 'h1'], ['adimg', 'h1'], ['tags', 'h2'], ['analytics', 'h1'], ['social', 'h2'],
];
export const PAGE2_ORIGINS: Origin[] = P2.map(([n, http], i) => ({ host: `${n}.lab`, addr: `198.51.100.${20 + i}`, tls: true, http }));

const KB = 1024;

/** n sizes around `avg` (0.4x..1.6x, deterministic), summing to n * avg. */
function spread(n: number, avg: number): number[] {
  const raw = Array.from({ length: n }, (_, i) => 0.4 + (1.2 * ((i * 7) % n)) / Math.max(1, n - 1));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => Math.round((r / sum) * n * avg));
}

function many(origin: string, kind: Kind, prefix: string, n: number, avg: number, load?: Resource['load']): Resource[] {
  return spread(n, avg).map((bytes, i) => ({ origin, path: `/${prefix}${i}.${EXT[kind]}`, kind, bytes, load }));
}

function page1Resources(): Resource[] {
  const o = PAGE1_ORIGIN.host;
  return [...many(o, 'css', 'style', 4, 10 * KB), ...many(o, 'js', 'script', 6, 14 * KB, 'sync'), ...many(o, 'img', 'image', 30, 15 * KB)];
}

function page2Resources(): Resource[] {
  const pixel = (n: number): Resource => ({ origin: 'analytics.lab', path: `/pixel${n}.png`, kind: 'img', bytes: 200 });
  return [
    ...many('www.lab', 'css', 'css/site', 4, 18 * KB),
    ...many('fonts.lab', 'font', 'font', 3, 35 * KB),
    ...many('www.lab', 'js', 'js/site', 3, 25 * KB, 'sync'),
    { ...many('cdn.lab', 'js', 'lib/app', 1, 60 * KB, 'defer')[0], injects: many('api.lab', 'js', 'v1/data', 3, 4 * KB) },
    ...many('cdn.lab', 'js', 'lib/vendor', 5, 54 * KB, 'defer'),
    {
      origin: 'tags.lab', path: '/gtm.js', kind: 'js', bytes: 8 * KB, load: 'async',
      injects: [{ origin: 'analytics.lab', path: '/analytics.js', kind: 'js', bytes: 25 * KB, injects: [pixel(0), pixel(1)] }],
    },
    { origin: 'ads.lab', path: '/ads.js', kind: 'js', bytes: 20 * KB, load: 'async', injects: many('adimg.lab', 'img', 'creative', 3, 12 * KB) },
    { origin: 'social.lab', path: '/widget.js', kind: 'js', bytes: 35 * KB, load: 'async', injects: many('social.lab', 'img', 'avatar', 2, 8 * KB) },
    ...many('static.lab', 'img', 'img/photo', 24, 30 * KB),
    ...many('img.lab', 'img', 'thumb', 12, 30 * KB),
    ...many('media.lab', 'img', 'hero', 4, 45 * KB),
  ];
}

/** Incompressible filler that is valid inside a CSS/JS comment (base64 has no `*`). */
function filler(seed: string, bytes: number): string {
  const out: string[] = [];
  let h = crypto.createHash('sha256').update(seed).digest();
  let n = 0;
  while (n < bytes) {
    h = crypto.createHash('sha256').update(h).digest();
    const s = h.toString('base64');
    out.push(s);
    n += s.length;
  }
  return out.join('').slice(0, Math.max(0, bytes));
}

/** Deterministic incompressible bytes. */
function noise(seed: string, n: number): Buffer {
  const b = Buffer.alloc(n);
  let h = crypto.createHash('sha256').update(seed).digest();
  for (let i = 0; i < n; i += h.length) {
    h = crypto.createHash('sha256').update(h).digest();
    h.copy(b, i);
  }
  return b;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A valid PNG of exactly `bytes` (at least 100): random RGB pixels stored uncompressed, padded
 * with a tEXt chunk. The browser decodes it like any image (an invalid one is cancelled after
 * its first bytes, which would shrink the page).
 */
export function png(seed: string, bytes: number): Buffer {
  const width = bytes < 4000 ? 1 : 100;
  const rowBytes = 1 + width * 3;
  const height = Math.max(1, Math.floor((bytes - 120) / (rowBytes + 0.01)));
  const raw = noise(seed, height * rowBytes);
  for (let y = 0; y < height; y++) raw[y * rowBytes] = 0; // filter: none
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const body = [sig, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 0 }))];
  const end = chunk('IEND', Buffer.alloc(0));
  const used = body.reduce((a, b) => a + b.length, 0) + end.length;
  const pad = bytes - used - 12;
  if (pad >= 1) body.push(chunk('tEXt', Buffer.from(`c\0${'x'.repeat(Math.max(0, pad - 2))}`, 'latin1')));
  return Buffer.concat([...body, end]);
}

/**
 * Page 1's plain HTTP port: not 80, which the lab's origin server holds on every address of the
 * origin namespace (it listens on the wildcard).
 */
export const PAGE_HTTP_PORT = 8080;

/** The port an origin's nginx server listens on. */
export function originPort(o: Origin): number {
  return o.tls ? 443 : PAGE_HTTP_PORT;
}

function url(o: Origin, p: string): string {
  return o.tls ? `https://${o.host}${p}` : `http://${o.host}:${PAGE_HTTP_PORT}${p}`;
}

function body(r: Resource, byHost: Map<string, Origin>): Buffer {
  const seed = `${r.origin}${r.path}`;
  if (r.kind === 'img') return png(seed, r.bytes);
  if (r.kind === 'font') return noise(seed, r.bytes);
  let code = '';
  if (r.kind === 'js' && r.injects?.length) {
    const add = r.injects.map((c) => {
      const u = JSON.stringify(url(byHost.get(c.origin) as Origin, c.path));
      return c.kind === 'js'
        ? `{const s=document.createElement('script');s.src=${u};s.async=true;document.head.appendChild(s);}`
        : `{const i=new Image();i.src=${u};document.body.appendChild(i);}`;
    });
    code = `(function(){${add.join('')}})();\n`;
  }
  const pad = r.bytes - code.length - 5; // "/*" + filler + "*/\n"
  return Buffer.from(`${code}/*${filler(seed, pad)}*/\n`);
}

function html(title: string, res: Resource[], byHost: Map<string, Origin>, bytes: number): string {
  const u = (r: Resource): string => url(byHost.get(r.origin) as Origin, r.path);
  const head: string[] = [];
  const bodyTags: string[] = [];
  for (const r of res) {
    if (r.kind === 'css') head.push(`<link rel="stylesheet" href="${u(r)}">`);
    else if (r.kind === 'font') head.push(`<link rel="preload" as="font" type="font/woff2" crossorigin href="${u(r)}">`);
    else if (r.kind === 'js' && r.load === 'sync') bodyTags.push(`<script src="${u(r)}"></script>`);
    else if (r.kind === 'js') head.push(`<script ${r.load} src="${u(r)}"></script>`);
    else bodyTags.push(`<p>item</p><img src="${u(r)}" width="100" height="80" alt="">`);
  }
  // An empty inline icon: otherwise the browser fetches /favicon.ico (a 404) around the load
  // event, sometimes before it, and the page's request count varies from load to load.
  const start = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">\n${head.join('\n')}\n</head><body>\n`;
  const end = `\n${bodyTags.join('\n')}\n</body></html>\n`;
  const text = `<p>${filler(title, Math.max(0, bytes - start.length - end.length - 7))}</p>`;
  return start + text + end;
}

function flatten(res: Resource[]): Resource[] {
  return res.flatMap((r) => [r, ...flatten(r.injects ?? [])]);
}

/** Write both pages under `dir/<host>/...`; returns what the benchmark needs to load them. */
export function writePages(dir: string): { page1: Page; page2: Page } {
  const make = (name: string, origins: Origin[], res: Resource[], htmlBytes: number): Page => {
    const byHost = new Map(origins.map((o) => [o.host, o]));
    const all = flatten(res);
    let total = 0;
    for (const r of all) {
      const f = path.join(dir, r.origin, r.path);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      const b = body(r, byHost);
      fs.writeFileSync(f, b);
      total += b.length;
    }
    const main = origins[0];
    const h = html(name, res, byHost, htmlBytes);
    fs.mkdirSync(path.join(dir, main.host), { recursive: true });
    fs.writeFileSync(path.join(dir, main.host, 'index.html'), h);
    return { name, url: url(main, '/index.html'), origins, requests: all.length + 1, bytes: total + h.length };
  };
  return {
    page1: make('page1', [PAGE1_ORIGIN], page1Resources(), 20 * KB),
    page2: make('page2', PAGE2_ORIGINS, page2Resources(), 35 * KB),
  };
}
