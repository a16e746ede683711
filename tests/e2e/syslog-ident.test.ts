/**
 * The syslog idents name our programs (redsocks-ts, socks-server) unless the config asks for
 * redsocks' or Dante's (syslog_ident, extension.syslog.ident): the daemons' own log objects,
 * built from parsed configs, writing to a syslog socket of the test's own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addonStatus } from 'mptcp-native';
import { syslogSink } from '@mptcp-proxy/lab';
import { createRedsocksLog, parseRedsocksConfig } from 'redsocks-ts';
import { createDanteLogger, parseDantedConfig } from 'socks-server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syslog-ident-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  // root tests never skip silently: the syslog target needs the addon
  expect(addonStatus()).toMatchObject({ loaded: true });
});

const redsocksIdent = (extra: string): string =>
  parseRedsocksConfig(`base { redirector = iptables; log = "syslog:local3"; ${extra} }\n`, 'r.conf', { resolve: () => ({ error: 'no' }) }).config.base.syslogIdent;

test.each([
  ['', 'redsocks-ts'],
  ['syslog_ident = redsocks;', 'redsocks'],
])('redsocks-ts %s -> ident %s', async (extra, ident) => {
  const sock = path.join(dir, `r${ident}.sock`);
  const sink = await syslogSink(sock);
  try {
    const log = createRedsocksLog([{ kind: 'syslog', facility: 'local3' }], { ident: redsocksIdent(extra), syslogPath: sock });
    log.notice('hello');
    const [m] = await sink.take(1);
    await log.close();
    expect(m).toMatch(new RegExp(`^<157>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ${ident}\\[${process.pid}\\]: hello$`));
  } finally {
    sink.close();
  }
});

test.each([
  ['', 'socks-server'],
  ['extension.syslog.ident: danted\n', 'danted'],
])('socks-server %s-> ident %s', async (extra, ident) => {
  const sock = path.join(dir, `s${ident}.sock`);
  const sink = await syslogSink(sock);
  try {
    const conf = parseDantedConfig(`logoutput: syslog/local3\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n${extra}`, 'd.conf').config;
    const lines: string[] = [];
    const log = createDanteLogger(conf.logoutput, { ident: conf.ext.syslogIdent, capture: (l) => lines.push(l), syslogPath: sock });
    log.info('hello');
    const [m] = await sink.take(1);
    await log.close();
    expect(m).toMatch(new RegExp(`^<158>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ${ident}\\[${process.pid}\\]: `));
    // the text line keeps Dante's format (log parsers match `danted[pid]`)
    expect(lines[0]).toMatch(new RegExp(`\\) danted\\[${process.pid}\\]: info: hello$`));
  } finally {
    sink.close();
  }
});

test('redsocks-ts line stamps: one clock, never backwards, real microseconds', async () => {
  const file = path.join(dir, 'r.log');
  const log = createRedsocksLog([{ kind: 'file', path: file }], { levels: { debug: true, info: true } });
  for (let i = 0; i < 3000; i++) log.info(`line ${i}`);
  await log.close();
  const stamps = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => /^(\d+)\.(\d{6}) info /.exec(l)!);
  expect(stamps).toHaveLength(3000);
  const us = stamps.map((m) => BigInt(m[1]) * 1000000n + BigInt(m[2]));
  for (let i = 1; i < us.length; i++) expect(us[i] >= us[i - 1]).toBe(true);
  // sub-millisecond digits vary (not a millisecond clock padded with zeros)
  expect(new Set(stamps.map((m) => m[2].slice(3))).size).toBeGreaterThan(100);
  expect(Math.abs(Number(us[us.length - 1] / 1000n) - Date.now())).toBeLessThan(5000);
});
