import * as fs from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import type { LoadResult } from './types';

// Temporary stub; the real parser lands in parser.ts / schema.ts.
export function parseRedsocksConfig(_text: string, file: string): LoadResult {
  throw new ConfigError('ECONFIG_TODO', file, 0, 'parser not implemented yet');
}

export function loadRedsocksConfig(path: string): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('ECONFIG_OPEN', path, 0, `Unable to open config file ${path}: ${(err as Error).message}`);
  }
  return parseRedsocksConfig(text, path);
}
