import { ConfigValueError } from '@mptcp-proxy/common';
import { dialDefaults, dialKeys, finishTls, tlsKeys } from '../extensions';
import type { KeyParser, SectionSpec } from '../section-spec';
import { listenKeys, proxyKeys } from './shared-keys';
import type { RedudpSection } from '../types';
import { parseInAddr, parseUint16 } from '../values';

const keys = new Map<string, KeyParser<RedudpSection>>([
  ...listenKeys,
  ...proxyKeys,
  ['dest_ip', (t, v, ctx) => void (t.destIp = parseInAddr(v, ctx))],
  ['dest_port', (t, v) => void (t.destPort = parseUint16(v))],
  ['udp_timeout', (t, v) => void (t.udpTimeout = parseUint16(v))],
  ['udp_timeout_stream', (t, v) => void (t.udpTimeoutStream = parseUint16(v))],
  // extensions: how the association reaches the server (MPTCP, WAN paths)
  ...dialKeys,
  // TLS to the SOCKS server: the keys of `redsocks {}` (docs/tls.md)
  ...tlsKeys,
]);

export const redudpSection: SectionSpec<RedudpSection> = {
  name: 'redudp',
  keys,
  create: (line) => ({
    line,
    localIp: '127.0.0.1',
    localPort: 0,
    ip: '127.0.0.1',
    port: 0,
    destIp: '0.0.0.0',
    destPort: 0,
    udpTimeout: 30,
    udpTimeoutStream: 180,
    ...dialDefaults(),
  }),
  onExit(t) {
    if (t.udpTimeoutStream < t.udpTimeout) {
      throw new ConfigValueError('udp_timeout_stream should be not less then udp_timeout');
    }
    finishTls(t);
  },
  commit(t, builder) {
    builder.config.redudp.push(t);
  },
};
