import { parseNetstat, readMptcpCounters } from '../../src/gateway/system';

describe('/proc/net/netstat groups', () => {
  const text = [
    'TcpExt: SyncookiesSent TCPFastOpenActive',
    'TcpExt: 0 3',
    'MPTcpExt: MPCapableSYNRX MPCapableSYNTXDisabled MPJoinSynAckRx',
    'MPTcpExt: 12 0 7',
    '',
  ].join('\n');

  test('one group, header names against the value line', () => {
    expect(parseNetstat(text, 'MPTcpExt')).toEqual({ MPCapableSYNRX: 12, MPCapableSYNTXDisabled: 0, MPJoinSynAckRx: 7 });
    expect(parseNetstat(text, 'TcpExt')).toEqual({ SyncookiesSent: 0, TCPFastOpenActive: 3 });
  });

  test('a group that is absent, or has no value line, gives {}', () => {
    expect(parseNetstat(text, 'IpExt')).toEqual({});
    expect(parseNetstat('MPTcpExt: MPCapableSYNRX\n', 'MPTcpExt')).toEqual({});
  });

  test('this namespace has MPTCP counters (MPTCP is enabled on this kernel)', () => {
    expect(typeof readMptcpCounters().MPCapableSYNRX).toBe('number');
  });
});
