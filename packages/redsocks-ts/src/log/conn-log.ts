/** Per-connection logger: redsocks' `[client_ip:port->dest_ip:port]: ` prefix. */
import type { ConnLogger, Endpoint } from '../upstream/upstream';
import type { RedsocksLog } from './redsocks-log';

export function connPrefix(client: Endpoint, dest: Endpoint): string {
  return `[${client.address}:${client.port}->${dest.address}:${dest.port}]: `;
}

export interface FullConnLogger extends ConnLogger {
  notice(msg: string): void;
  warning(msg: string): void;
}

export function connLogger(log: RedsocksLog, client: Endpoint, dest: Endpoint): FullConnLogger {
  const prefix = connPrefix(client, dest);
  const where = 'redsocks.c:0 redsocks_log_write_plain(...)';
  return {
    debug: (m) => {
      if (log.enabled('debug')) log.debug(prefix + m, where);
    },
    info: (m) => {
      if (log.enabled('info')) log.info(prefix + m, where);
    },
    notice: (m) => log.notice(prefix + m, where),
    warning: (m) => log.warning(prefix + m, where),
    error: (m) => log.error(prefix + m, where),
  };
}
