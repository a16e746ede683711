import { strtoul } from '../../src/config/strtoul';
import { inetAton } from '../../src/config/inet-aton';
import { parseBool, parseUint16, parseUint32 } from '../../src/config/values';

describe('strtoul(s, &end, 0)', () => {
  test.each([
    ['0', 0n, 1],
    ['1080', 1080n, 4],
    ['010', 8n, 3],
    ['08', 0n, 1],
    ['0x438', 0x438n, 5],
    ['0X1f', 0x1fn, 4],
    ['0x', 0n, 1],
    ['0xg', 0n, 1],
    [' \t+12', 12n, 5],
    ['-1', (1n << 64n) - 1n, 2],
    ['-0', 0n, 2],
    ['', 0n, 0],
    ['   ', 0n, 0],
    ['x', 0n, 0],
    ['- 5', 0n, 0],
    ['18446744073709551615', (1n << 64n) - 1n, 20],
    ['99999999999999999999999', (1n << 64n) - 1n, 23],
    ['12 ', 12n, 2],
  ])('%j', (s, value, end) => {
    expect(strtoul(s)).toEqual({ value, end });
  });
});

describe('inet_aton', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['1.2.65535', '1.2.255.255'],
    ['0x7f000001', '127.0.0.1'],
    ['01.02.03.010', '1.2.3.8'],
    ['127.1 garbage', '127.0.0.1'],
    ['4294967295', '255.255.255.255'],
    ['0', '0.0.0.0'],
  ])('%j -> %s', (s, out) => {
    expect(inetAton(s)).toBe(out);
  });
  test.each(['1.2.3.4.5', '256.1.1.1', '1.2.3.256', '1.2.65536', ' 1.2.3.4', '1..2', '1.2.3.4.', '1.2.3.08', '', 'localhost', '::1', '4294967296', '+1.2.3.4', '0x'])(
    '%j is rejected',
    (s) => {
      expect(inetAton(s)).toBeNull();
    },
  );
});

describe('booleans (lowercase only)', () => {
  test.each(['ok', 'on', 'yes', 'true'])('%s = true', (w) => expect(parseBool(w)).toBe(true));
  test.each(['off', 'no', 'false'])('%s = false', (w) => expect(parseBool(w)).toBe(false));
  test.each(['On', 'TRUE', '1', '0', 'y', 'enabled', ''])('%j is rejected', (w) => {
    expect(() => parseBool(w)).toThrow('boolean is not parsed');
  });
});

describe('integers', () => {
  test('uint16 range is checked before trailing garbage', () => {
    expect(() => parseUint16('99999x')).toThrow('integer out of 16bit range');
    expect(() => parseUint16('12x')).toThrow('integer is not parsed');
    expect(() => parseUint16('-1')).toThrow('integer out of 16bit range');
    expect(parseUint16('65535')).toBe(65535);
    expect(() => parseUint16('65536')).toThrow('integer out of 16bit range');
    expect(parseUint16('')).toBe(0);
  });
  test('uint32 truncates silently like redsocks', () => {
    expect(parseUint32('99999999999')).toBe(99999999999 % 2 ** 32);
    expect(parseUint32('-1')).toBe(4294967295);
    expect(parseUint32('-5')).toBe(4294967291);
    expect(parseUint32('18446744073709551616')).toBe(4294967295);
    expect(parseUint32('4294967296')).toBe(0);
    expect(() => parseUint32('09')).toThrow('integer is not parsed');
  });
});
