/**
 * The lab's origin: a small HTTP server run inside the origin namespace.
 *   GET /small         a short page-like body
 *   GET /bytes/N       N bytes of payload
 *   POST /upload       consumes the body, answers {"bytes":N,"ms":T}: T from its first byte to
 *                      its end; with ?omit=MS also {"afterBytes","afterMs"}: what arrived after
 *                      the first MS (iperf3's -O: slow start and subflows joining left out)
 * Usage: tsx packages/lab/src/origin-server.ts PORT
 */
import * as http from 'node:http';

const CHUNK = Buffer.alloc(256 * 1024, 'x');

function sendBytes(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const m = /^\/bytes\/(\d+)/.exec(url);
  if (req.method === 'POST') {
    const omit = Number(/[?&]omit=(\d+)/.exec(url)?.[1] ?? -1);
    let bytes = 0;
    let first = 0;
    let atOmit = -1;
    let omitAt = 0;
    req.on('data', (c: Buffer) => {
      const now = performance.now();
      if (bytes === 0) first = now;
      if (omit >= 0 && atOmit < 0 && now - first >= omit) {
        atOmit = bytes;
        omitAt = now;
      }
      bytes += c.length;
    });
    req.on('end', () => {
      const end = performance.now();
      const after = omit >= 0 ? { afterBytes: atOmit < 0 ? 0 : bytes - atOmit, afterMs: atOmit < 0 ? 0 : Math.round(end - omitAt) } : {};
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, ms: Math.round(end - first), ...after }));
    });
    return;
  }
  if (m) return sendBytes(res, Number(m[1]));
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<html><body>small page from the lab origin</body></html>\n');
});
server.keepAliveTimeout = 1000;
// IPv4 and IPv6 (a dual-stack lab); IPv4 only where IPv6 is switched off.
const port = Number(process.argv[2] ?? 80);
const ready = (): void => void process.stdout.write('listening\n');
server.once('error', () => server.listen(port, '0.0.0.0', ready));
server.listen(port, '::', ready);
