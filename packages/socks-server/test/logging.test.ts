/**
 * Log lines: the same client traffic through the real danted and through
 * socks-server gives the same line shapes (numbers normalised); JSON lines
 * with extension.logformat: json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { RawClient, ipv4Request, serverFrom, sink, type Sink, freePort } from './helpers/fixture';
import { removeTempDir, tempDir, waitFor } from '@mptcp-proxy/lab';

const dir = tempDir('socks-log-');
afterAll(() => removeTempDir(dir));

const rules = (blockPort: number): string => `
client pass {
  from: 0/0 to: 0/0
  log: connect disconnect error
}
socks block {
  from: 0/0 to: 0/0 port = ${blockPort}
  log: connect disconnect error
}
socks pass {
  from: 0/0 to: 0/0
  log: connect disconnect error
}
`;

/** One passing connection whose destination closes first, and one blocked request. */
async function traffic(port: number, dest: Sink, blockPort: number): Promise<void> {
  const c = await RawClient.connect(port);
  c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
  await c.read(12);
  await c.read(5); // "hello" greeting from the destination, which then closes
  await c.untilEnd();
  c.sock.end();
  const b = await RawClient.connect(port);
  b.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', blockPort)]));
  await b.untilEnd();
}

/** Dante line without prefix, every number replaced. */
function shape(line: string): string {
  return line.replace(/^.*?danted\[\d+\]: /, '').replace(/\d+/g, 'N');
}

describe('Dante line format', () => {
  let danted: ChildProcess | undefined;
  let dest: Sink;
  let closer: net.Server;
  let closerPort: number;

  beforeAll(async () => {
    dest = await sink();
    // A destination that sends "hello" and closes (the remote peer closes first).
    closer = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end('hello');
    });
    await new Promise<void>((r) => closer.listen(0, '127.0.0.1', () => r()));
    closerPort = (closer.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    danted?.kill('SIGKILL');
    await dest.close();
    closer.close();
  });

  test('pass and block lines have the same shape as the real danted', async () => {
    const closeDest = { ...dest, port: closerPort } as Sink;
    // The real danted.
    const dport = await freePort();
    const dlog = join(dir, 'danted.log');
    writeFileSync(join(dir, 'danted.conf'), `logoutput: ${dlog}
internal: 127.0.0.1 port = ${dport}
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
${rules(dest.port)}`);
    danted = spawn('danted', ['-f', join(dir, 'danted.conf'), '-p', join(dir, 'danted.pid')], { stdio: 'ignore' });
    await waitFor(() => existsSync(dlog) && readFileSync(dlog, 'utf8').includes('running'), 10000, 'danted');
    await traffic(dport, closeDest, dest.port);
    const want = ['tcp/accept [', 'tcp/connect [', 'tcp/connect ]', 'tcp/accept ]: N', 'blocked by higher-level'];
    await waitFor(() => {
      const t = readFileSync(dlog, 'utf8');
      return want.every((w) => shape(t).includes(w.replace(/\d+/g, 'N')));
    }, 10000, 'danted log lines');
    danted.kill('SIGTERM');
    const theirs = readFileSync(dlog, 'utf8').split('\n').filter((l) => /: (pass|block)\(/.test(l)).map(shape);

    const fx = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
clientmethod: none
${rules(dest.port)}`);
    await traffic(fx.port, closeDest, dest.port);
    await waitFor(() => fx.lines.filter((l) => /: (pass|block)\(/.test(l)).length >= theirs.length, 10000, 'our log lines');
    const ours = fx.lines.filter((l) => /: (pass|block)\(/.test(l)).map(shape);
    await fx.close();
    expect(ours.sort()).toEqual(theirs.sort());
  }, 30000);
});

test('extension.logformat: json writes one JSON object per line', async () => {
  const dest = await sink({ echo: true });
  const fx = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
extension.logformat: json
client pass { from: 0/0 to: 0/0
  log: connect disconnect error }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
  const c = await RawClient.connect(fx.port);
  c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('x')]));
  await c.read(13);
  c.sock.end();
  await waitFor(() => fx.lines.some((l) => l.includes('"disconnect"')));
  const objs = fx.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const connect = objs.find((o) => o.event === 'connect')!;
  expect(connect.level).toBe('info');
  expect(connect.dest).toBe(`127.0.0.1.${dest.port}`);
  expect(String(connect.msg)).toMatch(/^pass\(1\): tcp\/connect \[: /);
  const disc = objs.find((o) => o.event === 'disconnect')!;
  expect(disc.toDest).toBe(1);
  expect(disc.fromDest).toBe(1);
  await fx.close();
  await dest.close();
});
