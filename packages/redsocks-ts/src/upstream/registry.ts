/**
 * `type = ...` -> the upstream protocol plug-in (redsocks' relay_subsys table). One set per
 * daemon: what the protocols learn across connections (which servers take optimistic connect,
 * HTTP challenges) lives in these objects and survives a reload.
 */
import { ProxyError } from '@mptcp-proxy/common';
import type { UpstreamType } from '../config/types';
import { httpConnectUpstream } from './http-connect';
import { httpRelayUpstream } from './http-relay';
import { ServerCapabilities } from './server-capabilities';
import { socks4Upstream } from './socks4';
import { socks5Upstream } from './socks5';
import type { UpstreamProtocol } from './upstream';

export class Upstreams {
  private readonly byType: Readonly<Record<UpstreamType, UpstreamProtocol>>;

  /** `capabilities`: what each SOCKS5 server answered (tests pass their own to look inside). */
  constructor(readonly capabilities = new ServerCapabilities()) {
    this.byType = {
      socks4: socks4Upstream(),
      socks5: socks5Upstream(capabilities),
      'http-connect': httpConnectUpstream(),
      'http-relay': httpRelayUpstream(),
    };
  }

  protocolFor(type: string): UpstreamProtocol {
    const p = (this.byType as Record<string, UpstreamProtocol | undefined>)[type];
    if (!p) throw new ProxyError('EUPSTREAMTYPE', `invalid \`type\` <${type}> for redsocks`);
    return p;
  }
}
