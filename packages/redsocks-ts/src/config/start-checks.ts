import { ConfigError } from '@mptcp-proxy/common';
import { keyLineOf } from './load';
import { parseLogTarget } from './log-target';
import type { LoadResult, RedsocksConfig } from './types';

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

/** The password the shipped samples carry (conf/redsocks.conf): a daemon never runs with it. */
export const PLACEHOLDER_PASSWORD = 'CHANGE-ME';

/** Refuses an instance whose password is still the samples' placeholder, naming file:line. */
export function checkPlaceholders({ config, keyLines }: LoadResult): void {
  for (const r of config.redsocks) {
    if (r.password !== PLACEHOLDER_PASSWORD) continue;
    const at = keyLineOf(keyLines, r.line, 'password') ?? r.line;
    throw new ConfigError('ECONFIG_PLACEHOLDER', config.file, at,
      `password is still the sample's placeholder "${PLACEHOLDER_PASSWORD}": set the password of your socks-server account`);
  }
}
