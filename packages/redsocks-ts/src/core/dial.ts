/**
 * The single place upstream connections are made. When the dial/ module (MPTCP dialer with
 * path health, TFO and warm pool) is present it is used; otherwise mptcp-native connect(),
 * and plain net.connect() if the addon is not loadable (mptcp = on then fails clearly).
 */
import * as net from 'node:net';
import * as native from 'mptcp-native';
import { ProxyError } from '@mptcp-proxy/common';
import type { BaseSection, RedsocksInstance } from '../config/types';
import type { DialOptions } from '../upstream/upstream';

export interface InstanceDialer {
  dial(opts?: DialOptions): Promise<net.Socket>;
  close(): void;
}

type CreateDialer = (instance: RedsocksInstance, base: BaseSection) => InstanceDialer;
type NativeConnect = (opts: { host: string; port: number; mptcp?: string; fastOpen?: boolean }) => Promise<net.Socket>;

function loadDialModule(): CreateDialer | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../dial') as { createDialer?: CreateDialer };
    return typeof mod.createDialer === 'function' ? mod.createDialer : undefined;
  } catch {
    return undefined;
  }
}

export function plainConnect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export function fallbackDialer(instance: RedsocksInstance): InstanceDialer {
  const connect = (native as unknown as { connect?: NativeConnect }).connect;
  return {
    async dial() {
      if (typeof connect === 'function') {
        const s = await connect({ host: instance.ip, port: instance.port, mptcp: instance.mptcp });
        s.allowHalfOpen = true;
        return s;
      }
      if (instance.mptcp === 'on') throw new ProxyError('ENOADDON', 'mptcp = on but the mptcp-native addon is not available');
      return plainConnect(instance.ip, instance.port);
    },
    close() {},
  };
}

let create: CreateDialer | null | undefined;

export function createInstanceDialer(instance: RedsocksInstance, base: BaseSection): InstanceDialer {
  if (create === undefined) create = loadDialModule() ?? null;
  if (create) return create(instance, base);
  return fallbackDialer(instance);
}
