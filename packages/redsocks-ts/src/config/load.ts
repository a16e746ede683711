import * as fs from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import { CONFIG_ERROR_CODES, runGrammar } from './grammar';
import { redsocksConfigError } from './error-text';
import { parseLogTarget } from './log-target';
import { systemResolver, type HostResolver } from './resolver';
import type { ConfigBuilder, ParseContext, SectionSpec } from './section-spec';
import { baseSection, defaultBase, toBase } from './sections/base';
import { dnsSection } from './sections/dns';
import { dnstcSection } from './sections/dnstc';
import { redsocksSection } from './sections/redsocks';
import { redudpSection } from './sections/redudp';
import type { ConfigWarning, KeyLine, LoadResult, RedsocksConfig } from './types';

export interface ParseOptions {
  /** Parse-time host lookup for `ip = name;` (default: glibc via getent, as redsocks does). */
  resolve?: HostResolver;
}

/** The sections compiled into redsocks 0.5 on Linux, and our extension section `dns {}`. */
const SECTIONS = [baseSection, redsocksSection, redudpSection, dnstcSection, dnsSection] as ReadonlyArray<SectionSpec<unknown>>;

/**
 * Parses redsocks.conf text with redsocks 0.5's grammar and its parse-time checks (what
 * `redsocks -t` checks). Throws a ConfigError (with redsocks' lines, see error-text.ts) on the first error.
 */
export function parseRedsocksConfig(text: string, file: string, options: ParseOptions = {}): LoadResult {
  const warnings: ConfigWarning[] = [];
  const builder: ConfigBuilder = {
    config: { file, base: toBase(defaultBase()), redsocks: [], redudp: [], dnstc: [], dns: [] },
    baseSeen: false,
    keyLines: [],
  };
  const ctx: ParseContext & { line: number } = {
    file,
    line: 0,
    warn(message) {
      warnings.push({ file, line: ctx.line, message });
    },
    resolve: options.resolve ?? systemResolver,
  };
  runGrammar(text, file, SECTIONS, builder, ctx);

  const { config } = builder;
  checkTlsPeers(config);
  if (!builder.baseSeen) {
    warnings.push({ file, line: 0, message: 'there is no configured instance of `base`, check config file' });
  } else {
    try {
      parseLogTarget(config.base.log, file, config.base.line);
    } catch (err) {
      warnings.push({ file, line: config.base.line, message: (err as ConfigError).detail });
    }
  }
  return { config, warnings, keyLines: builder.keyLines };
}

/**
 * A SOCKS server's listener speaks TLS or cleartext, not both (docs/tls.md): every section that
 * goes to the same ip:port must agree on `tls`. Each section names its own keys (none follows
 * another); this refuses the section that disagrees with the first one, at its line.
 */
function checkTlsPeers(config: RedsocksConfig): void {
  const first = new Map<string, { name: string; line: number; tls: boolean }>();
  const all = [
    ...config.redsocks.map((s) => ({ name: 'redsocks', s })),
    ...config.dns.map((s) => ({ name: 'dns', s })),
    ...config.redudp.map((s) => ({ name: 'redudp', s })),
  ].sort((a, b) => a.s.line - b.s.line);
  for (const { name, s } of all) {
    const at = s.ip.includes(':') ? `[${s.ip}]:${s.port}` : `${s.ip}:${s.port}`;
    const tls = s.tls !== undefined;
    const seen = first.get(at);
    if (!seen) {
      first.set(at, { name, line: s.line, tls });
      continue;
    }
    if (seen.tls === tls) continue;
    throw redsocksConfigError(CONFIG_ERROR_CODES.section, config.file, [{
      line: s.line,
      message: `${name} goes to ${at} ${tls ? 'with' : 'without'} \`tls = on\`, but ${seen.name} at line ${seen.line} goes there ${seen.tls ? 'with' : 'without'} it`,
    }], { hint: 'a socks-server listener speaks either TLS or cleartext: `tls = on` in every section that uses it, or in none' });
  }
}

/** The line of the last assignment of `key` in the section opened at `sectionLine`. */
export function keyLineOf(keyLines: readonly KeyLine[], sectionLine: number, key: string): number | undefined {
  let line: number | undefined;
  for (const k of keyLines) if (k.sectionLine === sectionLine && k.key === key) line = k.line;
  return line;
}

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
};

function strerror(e: NodeJS.ErrnoException): string {
  return (e.code !== undefined && STRERROR[e.code]) || e.message;
}

export function loadRedsocksConfig(path: string, options: ParseOptions = {}): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    // redsocks prints `Unable to open config file: <strerror>`
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError('ECONFIG_OPEN', path, 0, `Unable to open config file: ${strerror(e)}`);
  }
  return parseRedsocksConfig(text, path, options);
}
