import { ConfigError } from '@mptcp-proxy/common';
import { parseLogTarget } from './log-target';
import type { RedsocksConfig } from './types';

/**
 * The checks redsocks runs when it starts rather than at `-t`: a `base` section must
 * exist and `log` must name a known destination. Throws ConfigError with redsocks' text.
 */
export function checkStartable(config: RedsocksConfig): void {
  if (!config.base.present) {
    throw new ConfigError('ECONFIG_NO_BASE', config.file, 0, 'there is no configured instance of `base`, check config file');
  }
  parseLogTarget(config.base.log, config.file, config.base.line);
}
