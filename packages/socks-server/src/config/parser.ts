/**
 * danted.conf: the driver. Settings (settings.ts) come first, then rules and routes
 * (rule-grammar.ts); checks.ts holds Dante's checkrule()/checkconfig(). The system lookups
 * (users, interfaces, hostnames, services) are injected; by default the running host's.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import { checkConfig } from './checks';
import { defaultConfig } from './defaults';
import { isKeywordToken, tokenize } from './lexer';
import { RuleGrammar } from './rule-grammar';
import { SettingsTable } from './settings';
import { HostLookups, type SystemLookups } from './system-lookup';
import { DANTED_ERROR_CODES, E, TokenCursor } from './token-cursor';
import type { LoadResult } from './types';

export { DANTED_ERROR_CODES };

export interface ParseOptions {
  /** Users, interfaces, hostnames and services (default: this host, as Dante's libc sees it). */
  lookups?: SystemLookups;
}

/** Parse danted.conf text. Throws ConfigError (file:line, token, Dante's complaint in .detail). */
export function parseDantedConfig(text: string, file: string, options: ParseOptions = {}): LoadResult {
  const lastLine = text.split(/\r?\n|\r/).length;
  try {
    const c = new TokenCursor(tokenize(text), file, lastLine, options.lookups ?? new HostLookups());
    const config = defaultConfig(file);
    const settings = new SettingsTable(c, config);
    const rules = new RuleGrammar(c, config);
    for (let t = c.next(); t; t = c.next()) {
      if (!isKeywordToken(t.text)) rules.start(t);
      else if (rules.seen) c.syntax(t); // Dante: all settings precede rules and routes
      else settings.setting(t);
    }
    checkConfig(c, config);
    return { config, warnings: c.warnings, settingLines: settings.lines };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(E.internal, file, 0, `internal parser error: ${(err as Error).message}`);
  }
}

export function loadDantedConfig(path: string, options: ParseOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(E.open, path, 0, `could not open config file: ${(err as Error).message}`);
  }
  return parseDantedConfig(text, path, options);
}
