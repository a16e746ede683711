/** /proc/net/dev, as the per-path device counters read it (net/interface-bytes.ts). */
import { parseProcNetDev, readInterfaceBytes } from '../../src/net/interface-bytes';

test('the byte columns of each interface; headers and odd lines skipped', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:  123456     100    0    0    0     0          0         0   123456     100    0    0    0     0       0          0',
    '  wan1: 9876543210 5000   0    0    0     0          0         0 42 7    0    0    0     0       0          0',
    'short: 1 2 3',
    'bad: a b c d e f g h i j k l m n o p',
    '',
  ].join('\n');
  const m = parseProcNetDev(text);
  expect([...m.keys()]).toEqual(['lo', 'wan1']);
  expect(m.get('wan1')).toEqual({ rx: 9876543210, tx: 42 });
  expect(m.get('lo')).toEqual({ rx: 123456, tx: 123456 });
});

test('this host: lo is there; an unreadable file gives an empty map', () => {
  expect(readInterfaceBytes().has('lo')).toBe(true);
  expect(readInterfaceBytes('/nonexistent/net/dev').size).toBe(0);
});
