/**
 * dnstc against the C redsocks 0.5 (Debian): the same datagrams to both, on loopback. Each
 * must get the same reply byte for byte, or no reply from either, and the same log verdict
 * (`sent truncated DNS reply`, `malformed DNS request`, `incomplete DNS request`).
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { killOnExit, stopProcess, tempDir, waitFor } from '@mptcp-proxy/lab';
import { createRedsocksLog, dnsMessage, parseRedsocksConfig, startRedsocks, type RedsocksHandle } from 'redsocks-ts';

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** One datagram to port; the reply, or null after `ms`. */
function exchange(port: number, msg: Buffer, ms = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, ms);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const Q = '03 777777 03 6c6162 00 0001 0001';
const CASES: Array<[string, Buffer]> = [
  ['plain query', dnsMessage.buildQuery(0x1234, 'www.lab', 1)],
  ['dig default (EDNS + AD)', hex(`1111 0120 0001 0000 0000 0001 ${Q} 00 0029 04d0 00000000 0000`)],
  ['EDNS only', dnsMessage.buildQuery(0x2222, 'www.lab', 1, { edns: 1232 })],
  ['AD bit', hex(`3333 0120 0001 0000 0000 0000 ${Q}`)],
  ['CD bit', hex(`3334 0110 0001 0000 0000 0000 ${Q}`)],
  ['a response', hex(`4444 8180 0001 0000 0000 0000 ${Q}`)],
  ['no question', hex('5555 0100 0000 0000 0000 0000 00')],
  ['an answer record', hex(`6666 0100 0001 0001 0000 0000 ${Q}`)],
  ['header only', hex('7777 0100 0001 0000 0000 0000')],
  ['too short', hex('8888 01')],
  ['garbage question', hex('9999 0100 0001 0000 0000 0000 ff')],
  ['opcode 2 (status)', hex(`aaaa 1100 0001 0000 0000 0000 ${Q}`)],
  ['two questions', hex(`bbbb 0100 0002 0000 0000 0000 ${Q} ${Q}`)],
];

let cPort: number;
let ourPort: number;
let cProc: ReturnType<typeof spawn>;
let cOut = '';
let ours: RedsocksHandle;
const ourLines: string[] = [];

beforeAll(async () => {
  const dir = tempDir('dnstc-');
  cPort = await freeUdpPort();
  const conf = path.join(dir, 'c.conf');
  fs.writeFileSync(conf, `base { log_debug = off; log_info = on; log = stderr; daemon = off; redirector = iptables; }\ndnstc { local_ip = 127.0.0.1; local_port = ${cPort}; }\n`);
  cProc = killOnExit(spawn('redsocks', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
  cProc.stderr!.on('data', (d: Buffer) => (cOut += d.toString()));
  cProc.stdout!.on('data', (d: Buffer) => (cOut += d.toString()));
  await waitFor(() => cOut.includes('redsocks started') || cProc.exitCode !== null, 10000, 'C redsocks');
  expect(cProc.exitCode).toBeNull();
  const text = 'base { log_info = on; log = stderr; redirector = iptables; }\ndnstc { local_ip = 127.0.0.1; local_port = 0; }\n';
  ours = await startRedsocks(parseRedsocksConfig(text, 'ours.conf').config, {
    log: createRedsocksLog([], { levels: { debug: false, info: true }, capture: (_p, m) => void ourLines.push(m) }),
  });
  ourPort = ours.servicePorts('dnstc')[0]!;
});

afterAll(async () => {
  await ours?.close();
  await stopProcess(cProc);
});

test.each(CASES)('%s: the same reply (or none) and the same verdict as redsocks', async (_name, msg) => {
  const cBefore = cOut.length;
  const oursBefore = ourLines.length;
  const [theirs, mine] = await Promise.all([exchange(cPort, msg), exchange(ourPort, msg)]);
  expect(mine === null ? null : mine.toString('hex')).toBe(theirs === null ? null : theirs.toString('hex'));
  await waitFor(() => cOut.length > cBefore && ourLines.length > oursBefore, 2000, 'both log lines');
  const verdict = (line: string): string => /(sent truncated DNS reply|malformed DNS request|incomplete DNS request)/.exec(line)?.[1] ?? line;
  expect(verdict(ourLines[ourLines.length - 1]!)).toBe(verdict(cOut.slice(cBefore)));
});

test('the reply keeps the query whole: dig without EDNS/AD gets TC and would retry over TCP', async () => {
  const r = await exchange(ourPort, dnsMessage.buildQuery(1, 'www.lab', 1));
  expect(r).not.toBeNull();
  expect(dnsMessage.parseHeader(r!)).toMatchObject({ qr: true, tc: true, rd: true, ancount: 0 });
});
