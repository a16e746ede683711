/** Keys several sections share, with redsocks' value types: where to listen, which SOCKS server. */
import type { KeyParser } from '../section-spec';
import type { ListenKeys, ProxyKeys } from '../types';
import { parseInAddr, parseUint16 } from '../values';

export const listenKeys: ReadonlyArray<[string, KeyParser<ListenKeys>]> = [
  ['local_ip', (t, v, ctx) => void (t.localIp = parseInAddr(v, ctx))],
  ['local_port', (t, v) => void (t.localPort = parseUint16(v))],
];

export const proxyKeys: ReadonlyArray<[string, KeyParser<ProxyKeys>]> = [
  ['ip', (t, v, ctx) => void (t.ip = parseInAddr(v, ctx))],
  ['port', (t, v) => void (t.port = parseUint16(v))],
  ['login', (t, v) => void (t.login = v)],
  ['password', (t, v) => void (t.password = v)],
];
