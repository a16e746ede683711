import { getTcpKeepalive } from 'mptcp-native';
import { applyTcpKeepalive, keepaliveLimitation } from '../../src/net/keepalive';
import { lanPair } from '../helpers/upstream';

describe('tcp_keepalive_* (redsocks apply_tcp_keepalive)', () => {
  test('non-zero time, intvl and probes all reach the socket', async () => {
    const p = await lanPair();
    try {
      applyTcpKeepalive(p.client, { tcpKeepaliveTime: 31, tcpKeepaliveIntvl: 7, tcpKeepaliveProbes: 4 });
      expect(getTcpKeepalive(p.client)).toEqual({ enabled: true, idleS: 31, intervalS: 7, probes: 4 });
    } finally {
      p.close();
    }
  });

  test('zeros turn keepalive on and keep the kernel timers', async () => {
    const p = await lanPair();
    try {
      const before = getTcpKeepalive(p.client);
      expect(before.enabled).toBe(false);
      applyTcpKeepalive(p.client, { tcpKeepaliveTime: 0, tcpKeepaliveIntvl: 0, tcpKeepaliveProbes: 0 });
      expect(getTcpKeepalive(p.client)).toEqual({ ...before, enabled: true });
    } finally {
      p.close();
    }
  });

  test('only probes set: the idle time and interval stay the kernel\'s', async () => {
    const p = await lanPair();
    try {
      const before = getTcpKeepalive(p.client);
      applyTcpKeepalive(p.client, { tcpKeepaliveTime: 0, tcpKeepaliveIntvl: 0, tcpKeepaliveProbes: 3 });
      expect(getTcpKeepalive(p.client)).toEqual({ enabled: true, idleS: before.idleS, intervalS: before.intervalS, probes: 3 });
    } finally {
      p.close();
    }
  });

  test('with the addon loaded there is nothing to warn about', () => {
    expect(keepaliveLimitation({ tcpKeepaliveTime: 0, tcpKeepaliveIntvl: 5, tcpKeepaliveProbes: 2 })).toBeUndefined();
  });
});
