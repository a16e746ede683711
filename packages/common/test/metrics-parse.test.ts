/** The metrics text reader `mptcp-gateway status` uses (common/src/metrics/parse.ts). */
import { parseMetricsText, sumOf } from '../src/metrics/parse';

test('samples, labels with escapes, special values; comments and # EOF skipped', () => {
  const text = [
    '# HELP redsocks_bytes Bytes relayed',
    '# TYPE redsocks_bytes counter',
    'redsocks_bytes_total{instance="0.0.0.0:12345",direction="up"} 1024',
    'redsocks_bytes_total{instance="0.0.0.0:12345",direction="down"} 2.5e6',
    'plain 7',
    'q{l="a\\"b\\\\c\\nd"} -1',
    'inf{} +Inf',
    'nan NaN',
    'ts 3 1700000000',
    '# EOF',
    '',
  ].join('\n');
  const s = parseMetricsText(text);
  expect(s.slice(0, 3)).toEqual([
    { name: 'redsocks_bytes_total', labels: { instance: '0.0.0.0:12345', direction: 'up' }, value: 1024 },
    { name: 'redsocks_bytes_total', labels: { instance: '0.0.0.0:12345', direction: 'down' }, value: 2500000 },
    { name: 'plain', labels: {}, value: 7 },
  ]);
  expect(s[3]).toEqual({ name: 'q', labels: { l: 'a"b\\c\nd' }, value: -1 });
  expect(s[4].value).toBe(Infinity);
  expect(s[5].value).toBeNaN();
  expect(s[6].value).toBe(3);
  expect(sumOf(s, 'redsocks_bytes_total')).toBe(2501024);
  expect(sumOf(s, 'redsocks_bytes_total', { direction: 'up' })).toBe(1024);
  expect(sumOf(s, 'missing')).toBe(0);
});

test.each([
  ['{a="b"} 1', 'line 1: no metric name'],
  ['m{a=b} 1', 'line 1: expected ="..." at column 4'],
  ['m{a="b} 1', 'line 1: unterminated label value'],
  ['m{1="b"} 1', 'line 1: bad label name at column 3'],
  ['m x', 'not a number: <x>'],
  ['m', 'not a number: <>'],
])('malformed input names the line: %s', (text, msg) => {
  expect(() => parseMetricsText(text)).toThrow(msg);
});
