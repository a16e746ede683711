/** `type = ...` -> the upstream protocol plug-in (redsocks' relay_subsys table). */
import { ProxyError } from '@mptcp-proxy/common';
import { httpConnect } from './http-connect';
import { httpRelay } from './http-relay';
import { socks4Upstream } from './socks4';
import { socks5 } from './socks5';
import type { UpstreamProtocol } from './upstream';

export const UPSTREAMS: Readonly<Record<string, UpstreamProtocol>> = {
  socks4: socks4Upstream,
  socks5,
  'http-connect': httpConnect,
  'http-relay': httpRelay,
};

export function protocolFor(type: string): UpstreamProtocol {
  const p = UPSTREAMS[type];
  if (!p) throw new ProxyError('EUPSTREAMTYPE', `invalid \`type\` <${type}> for redsocks`);
  return p;
}
