/** The base-section extension keys of docs/metrics.md and the syslog ident. */
import { parse, reject } from './helpers';

const base = (body: string): string => `base {\n redirector = iptables;\n ${body}\n}\n`;

test('defaults: metrics off, loopback address, our syslog ident', () => {
  const b = parse(base('')).config.base;
  expect(b.metricsPort).toBeUndefined();
  expect(b.metricsIp).toBe('127.0.0.1');
  expect(b.syslogIdent).toBe('redsocks-ts');
});

test('metrics_port turns the endpoint on; metrics_ip and syslog_ident are read', () => {
  const b = parse(base('metrics_port = 9101; metrics_ip = 10.0.0.1; syslog_ident = redsocks;')).config.base;
  expect(b).toMatchObject({ metricsPort: 9101, metricsIp: '10.0.0.1', syslogIdent: 'redsocks' });
});

test.each([
  ['metrics_port = 70000;', 'metrics_port', '70000'],
  ['metrics_port = nine;', 'metrics_port', 'nine'],
  ['metrics_ip = not-an-address;', 'metrics_ip', 'not-an-address'],
  ['syslog_ident = "two words";', 'syslog_ident', 'two words'],
])('refused with file:line:column: %s', (body, key, value) => {
  const err = reject(base(body));
  expect(err.code).toBe('ECONFIG_VALUE');
  expect(err.line).toBe(3);
  expect(err.column).toBe(body.indexOf('=') + 4);
  expect(err.message).toContain('test.conf:3');
  expect(err.lines?.map((l) => l.message).join('\n')).toContain(`can't be parsed for key <${key}>`);
  expect(err.token).toBe(value);
});

test('the keys belong to base only', () => {
  expect(reject(`${base('')}redsocks { type = socks5; metrics_port = 1; }\n`).detail).toBe('assignment with unknown key <metrics_port>');
});
