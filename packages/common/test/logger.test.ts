import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyError, createLogger } from '@mptcp-proxy/common';
import { addonStatus } from 'mptcp-native';

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
      targets: [`file:${path}`],
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

  test('json format, absolute path target, metadata', async () => {
    const path = join(dir, 'json.log');
    const log = createLogger({ targets: [path], level: 'notice', ident: 'danted', format: 'json' });
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
    const log = createLogger({ targets: [`file:${path}`], ident: 'socks-server' });
    log.warning('before');
    // wait until the line is on disk before rotating
    while (!existsSync(path) || readFileSync(path, 'utf8') === '') await new Promise((r) => setTimeout(r, 5));
    renameSync(path, `${path}.1`);
    log.reopen();
    log.warning('after');
    await log.close();
    expect(lines(`${path}.1`)[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z socks-server\[\d+\]: warning: before$/);
    expect(lines(path)).toHaveLength(1);
    expect(lines(path)[0]).toMatch(/warning: after$/);
  });

  test('unknown target is a ProxyError', () => {
    expect(() => createLogger({ targets: ['tcp://x'] })).toThrow(ProxyError);
    expect(() => createLogger({ targets: ['relative.log'] })).toThrow(expect.objectContaining({ code: 'ELOG_TARGET' }));
  });

  test('syslog target sends RFC 3164 datagrams through mptcp-native, or falls back with one warning', async () => {
    const sock = join(dir, 'log.sock');
    const py = spawn('python3', [
      '-c',
      'import socket,sys\n' +
        's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n' +
        `s.bind(sys.argv[1]); s.settimeout(10)\n` +
        'print("ready",flush=True)\n' +
        'print(s.recv(4096).decode(),flush=True)\n',
      sock,
    ]);
    let out = '';
    py.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((res, rej) => {
      py.stdout.on('data', () => out.includes('ready') && res());
      py.once('exit', () => rej(new Error(`receiver exited: ${out}`)));
    });
    const warnings: string[] = [];
    const log = createLogger({
      targets: ['syslog:local3'],
      ident: 'redsocks',
      syslogPath: sock,
      onWarning: (m) => warnings.push(m),
      format: 'text',
    });
    log.notice('hello syslog');
    await new Promise<void>((res) => py.once('exit', () => res()));
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
