import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, isJournalStream, logClock, parseLogTarget, secUsecStamp } from '@mptcp-proxy/common';
import { addonStatus } from 'mptcp-native';
import { syslogSink } from '@mptcp-proxy/lab';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'common-log-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (p: string): string[] => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');

describe('createLogger', () => {
  test('file target with a daemon-supplied line format and level filtering', async () => {
    const path = join(dir, 'text.log');
    const log = createLogger({
      targets: [{ kind: 'file', path }],
      level: 'info',
      ident: 'redsocks',
      lineFormat: (level, msg) => `1700000000.123456 ${level === 'error' ? 'err' : level} main.c:1 main(...) ${msg}`,
    });
    log.info('accepted');
    log.debug('data relaying started');
    log.error('relay error');
    let evaluated = false;
    log.debug(() => {
      evaluated = true;
      return 'expensive';
    });
    expect(evaluated).toBe(false);
    expect(log.isLevelEnabled('info')).toBe(true);
    expect(log.isLevelEnabled('debug')).toBe(false);
    log.setLevel('debug');
    expect(log.isLevelEnabled('debug')).toBe(true);
    log.debug(() => 'now visible');
    await log.close();
    expect(lines(path)).toEqual([
      '1700000000.123456 info main.c:1 main(...) accepted',
      '1700000000.123456 err main.c:1 main(...) relay error',
      '1700000000.123456 debug main.c:1 main(...) now visible',
    ]);
  });

  test('json format, metadata', async () => {
    const path = join(dir, 'json.log');
    const log = createLogger({ targets: [{ kind: 'file', path }], level: 'notice', ident: 'danted', format: 'json' });
    log.info('filtered out');
    log.notice('pass(1): tcp/connect', { client: '10.0.0.2.4242', rule: 1 });
    await log.close();
    const got = lines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ level: 'notice', ident: 'danted', pid: process.pid, msg: 'pass(1): tcp/connect', client: '10.0.0.2.4242', rule: 1 });
    expect(typeof got[0].time).toBe('string');
  });

  test('default text line and reopen() after the file was rotated', async () => {
    const path = join(dir, 'rot.log');
    const log = createLogger({ targets: [{ kind: 'file', path }], ident: 'socks-server' });
    log.warning('before');
    // files are written synchronously: the line is on disk at once
    expect(existsSync(path) && readFileSync(path, 'utf8') !== '').toBe(true);
    renameSync(path, `${path}.1`);
    log.reopen();
    log.warning('after');
    await log.close();
    expect(lines(`${path}.1`)[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z socks-server\[\d+\]: warning: before$/);
    expect(lines(path)).toHaveLength(1);
    expect(lines(path)[0]).toMatch(/warning: after$/);
  });

  test('a file that cannot be opened: thrown (redsocks), or warned about and skipped until a reopen works (Dante)', async () => {
    const path = join(dir, 'later', 'x.log');
    expect(() => createLogger({ targets: [{ kind: 'file', path }] })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const warnings: string[] = [];
    const log = createLogger({ targets: [{ kind: 'file', path }], warnOnUnopenableFile: true, onWarning: (m) => warnings.push(m) });
    log.warning('lost');
    expect(warnings).toEqual([expect.stringMatching(/^cannot open log file .*x\.log: ENOENT/)]);
    mkdirSync(join(dir, 'later'));
    log.reopen();
    log.warning('kept');
    await log.close();
    expect(lines(path)).toEqual([expect.stringMatching(/warning: kept$/)]);
  });

  test('capture sees every line that passes the level, with its bare message', async () => {
    const got: string[] = [];
    const log = createLogger({ targets: [], level: 'notice', lineFormat: (l, m) => `L ${l} ${m}`, capture: (line, level, msg) => got.push(`${line}|${level}|${msg}`) });
    log.info('no');
    log.error('yes');
    await log.close();
    expect(got).toEqual(['L error yes|error|yes']);
  });

  test('syslog target sends RFC 3164 datagrams through mptcp-native, or falls back with one warning', async () => {
    const sock = join(dir, 'log.sock');
    const sink = await syslogSink(sock);
    const warnings: string[] = [];
    const log = createLogger({
      targets: [{ kind: 'syslog', facility: 'local3' }],
      ident: 'redsocks',
      syslogPath: sock,
      onWarning: (m) => warnings.push(m),
      format: 'text',
    });
    log.notice('hello syslog');
    const out = addonStatus().loaded ? (await sink.take(1))[0] : '';
    sink.close();
    await log.close();
    if (addonStatus().loaded) {
      expect(warnings).toEqual([]);
      // local3 = 19, notice = 5 -> PRI 157; message only, no line format
      expect(out).toMatch(new RegExp(`<157>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d redsocks\\[${process.pid}\\]: hello syslog`));
    } else {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/syslog target "syslog:local3" unavailable/);
    }
  });
});

describe('parseLogTarget: the one parser of both config spellings', () => {
  test('redsocks: stderr, file:PATH, syslog:FACILITY (daemon, local0..7); anything else is refused', () => {
    expect(parseLogTarget('stderr', 'redsocks')).toEqual({ ok: true, target: { kind: 'stderr' } });
    expect(parseLogTarget('file:/var/log/r.log', 'redsocks')).toEqual({ ok: true, target: { kind: 'file', path: '/var/log/r.log' } });
    expect(parseLogTarget('syslog:local7', 'redsocks')).toEqual({ ok: true, target: { kind: 'syslog', facility: 'local7' } });
    expect(parseLogTarget('syslog:user', 'redsocks')).toEqual({ ok: false, problem: 'unknown syslog facility' });
    expect(parseLogTarget('stdout', 'redsocks')).toEqual({ ok: false, problem: 'unknown destination' });
    expect(parseLogTarget('/var/log/r.log', 'redsocks')).toEqual({ ok: false, problem: 'unknown destination' });
  });

  test('dante: stderr, stdout, syslog, syslog/FACILITY (unknown ones warned about), else a file', () => {
    expect(parseLogTarget('stdout', 'dante')).toEqual({ ok: true, target: { kind: 'stdout' } });
    expect(parseLogTarget('syslog', 'dante')).toEqual({ ok: true, target: { kind: 'syslog', facility: 'daemon' } });
    expect(parseLogTarget('syslog/auth', 'dante')).toEqual({ ok: true, target: { kind: 'syslog', facility: 'auth' } });
    expect(parseLogTarget('syslog/bogus', 'dante')).toEqual({ ok: true, target: { kind: 'syslog', facility: 'bogus' }, unknownFacility: 'bogus' });
    expect(parseLogTarget('/var/log/sockd.log', 'dante')).toEqual({ ok: true, target: { kind: 'file', path: '/var/log/sockd.log' } });
  });
});

describe('journald', () => {
  test('JOURNAL_STREAM naming the stream turns on `<N>` priority prefixes; any other value does not', () => {
    // a file stands in for the journal's socket: JOURNAL_STREAM names its device:inode
    const path = join(dir, 'journal');
    const fixture = join(__dirname, 'fixtures', 'journal-child.ts');
    const run = (journal: (me: string) => string | undefined): string => {
      const fd = openSync(path, 'w');
      const st = fstatSync(fd, { bigint: true });
      const env = { ...process.env, JOURNAL_STREAM: journal(`${st.dev}:${st.ino}`) };
      if (env.JOURNAL_STREAM === undefined) delete env.JOURNAL_STREAM;
      execFileSync('npx', ['tsx', fixture], { stdio: ['ignore', 'ignore', fd], env, cwd: join(__dirname, '..', '..', '..'), timeout: 60000 });
      closeSync(fd);
      return readFileSync(path, 'utf8');
    };
    expect(run((me) => me)).toBe('<3>bad\n<5>note\n<6>fyi\n');
    expect(run(() => '1:2')).toBe('bad\nnote\nfyi\n');
    expect(run(() => undefined)).toBe('bad\nnote\nfyi\n');
  });

  test('isJournalStream compares device:inode of the fd', () => {
    const fd = openSync(join(dir, 'j2'), 'w');
    const st = fstatSync(fd, { bigint: true });
    expect(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` })).toBe(true);
    expect(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` })).toBe(false);
    expect(isJournalStream(fd, {})).toBe(false);
    closeSync(fd);
  });
});

test('logClock: one clock with microseconds that never runs backwards', () => {
  let last = logClock();
  let backwards = 0;
  for (let i = 0; i < 100000; i++) {
    const now = logClock();
    if (now < last) backwards++;
    last = now;
  }
  expect(backwards).toBe(0);
  expect(Math.abs(logClock() - Date.now())).toBeLessThan(1000);
  expect(secUsecStamp(1795626261585.3105)).toBe('1795626261.585310');
  expect(secUsecStamp(1000.9999999)).toBe('1.000999');
});
