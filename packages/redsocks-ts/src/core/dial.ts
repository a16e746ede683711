/**
 * The single place upstream connections are made: the dial/ module (MPTCP connect via
 * mptcp-native, WAN path health, TFO, warm pool). The core only adds half-open support.
 */
import type * as net from 'node:net';
import type { BaseSection, RedsocksInstance } from '../config/types';
import { createDialer } from '../dial';
import type { DialOptions } from '../upstream/upstream';

export interface InstanceDialer {
  dial(opts?: DialOptions): Promise<net.Socket>;
  close(): void;
}

export function createInstanceDialer(
  instance: RedsocksInstance,
  base: BaseSection,
  log?: { info(m: string): void; error(m: string): void },
): InstanceDialer {
  const d = createDialer(instance, base, { log });
  return {
    async dial(opts) {
      const s = await d.dial(opts);
      // FIN from one side must not close the other direction
      s.allowHalfOpen = true;
      return s;
    },
    close: () => d.close(),
  };
}
