import { connPrefix } from '../../src/log/conn-log';
import { createRedsocksLog, formatLine } from '../../src/log/redsocks-log';
import { parseArgs, formatConfigError } from '../../src/cli';
import { ConfigError } from '@mptcp-proxy/common';
import { secUsec } from '../../src/core/client';

describe('redsocks log format', () => {
  test('line layout: <sec>.<usec6> <prio> <file:line func(...)> <message>', () => {
    expect(formatLine('notice', 'redsocks started, conn_max=384', 'main.c:165 main(...)')).toMatch(
      /^\d+\.\d{6} notice main\.c:165 main\(\.\.\.\) redsocks started, conn_max=384$/,
    );
    expect(connPrefix({ address: '10.0.0.2', port: 5555 }, { address: '1.2.3.4', port: 80 })).toBe('[10.0.0.2:5555->1.2.3.4:80]: ');
    expect(secUsec(1234.5)).toBe('1.234500');
  });

  test('log_info / log_debug gate the lower priorities', () => {
    const lines: string[] = [];
    const log = createRedsocksLog([], { capture: (prio, m) => lines.push(`${prio} ${m}`) });
    log.info('accepted');
    log.debug('data relaying started');
    log.notice('n');
    log.setLevels({ debug: false, info: true });
    log.info('accepted');
    log.debug('x');
    log.setLevels({ debug: true, info: false });
    log.debug('y');
    log.error('e');
    expect(lines).toEqual(['notice n', 'info accepted', 'debug y', 'err e']);
  });

  test('the stamp is the common log clock: seconds and real microseconds', () => {
    expect(formatLine('info', 'x', 'w(...)', 1795626261585.3105)).toBe('1795626261.585310 info w(...) x');
  });
});

describe('command line', () => {
  test("redsocks' flags", () => {
    expect(parseArgs([])).toEqual({ conf: 'redsocks.conf', test: false, workers: 1 });
    expect(parseArgs(['-t', '-c', '/etc/redsocks.conf', '-p', '/run/r.pid'])).toEqual({
      conf: '/etc/redsocks.conf',
      test: true,
      pidfile: '/run/r.pid',
      workers: 1,
    });
    // ours: -N n workers (SO_REUSEPORT)
    expect(parseArgs(['-N', '2', '-c', 'r.conf'])).toMatchObject({ conf: 'r.conf', workers: 2 });
    expect(parseArgs(['-N4']).workers).toBe(4);
    expect(parseArgs(['-N', '0']).error).toBe('-N 0: expected a number of workers (1 to 999)');
    expect(parseArgs(['-tc/x.conf'])).toMatchObject({ conf: '/x.conf', test: true });
    expect(parseArgs(['-v']).action).toBe('version');
    expect(parseArgs(['-h']).action).toBe('help');
    expect(parseArgs(['-?']).action).toBe('help');
    expect(parseArgs(['-x']).action).toBe('help'); // unknown options print usage, rc 0
    expect(parseArgs(['-c']).action).toBe('help');
  });

  test('config errors print as redsocks does', () => {
    expect(formatConfigError(new ConfigError('E', 'r.conf', 7, 'unexpected char'))).toBe('file parsing error at line 7: unexpected char');
  });
});
