/** `redirector = iptables`: getsockopt(SOL_IP, SO_ORIGINAL_DST) on the accepted plain-TCP socket. */
import * as native from 'mptcp-native';
import type * as net from 'node:net';
import { ProxyError } from '@mptcp-proxy/common';
import { plainAddress, type Redirector } from './redirector';

type OriginalDst = (s: net.Socket) => { address: string; port: number; family?: number };

export const iptablesRedirector: Redirector = {
  name: 'iptables',
  transparent: false,
  originalDst(socket) {
    const fn = (native as unknown as { originalDst?: OriginalDst }).originalDst;
    if (typeof fn !== 'function') {
      throw new ProxyError('ENOADDON', 'getsockopt: SO_ORIGINAL_DST needs the mptcp-native addon');
    }
    const d = fn(socket);
    return { address: plainAddress(d.address), port: d.port };
  },
};
