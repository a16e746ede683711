/**
 * The lab's origin: a small HTTP server run inside the origin namespace.
 *   GET /small         a short page-like body
 *   GET /bytes/N       N bytes of payload
 *   POST /upload       consumes the body, answers {"bytes":N}
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
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes }));
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
