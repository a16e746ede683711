import { ConfigError } from '@mptcp-proxy/common';
import { parseRedsocksConfig, type HostResolver, type LoadResult } from 'redsocks-ts';

/** A fixed resolver so unit tests never depend on NSS. */
export const fakeResolver: HostResolver = (host) => {
  if (host === 'proxy.lan') return { addresses: ['10.9.9.9'] };
  if (host === 'multi.lan') return { addresses: ['10.9.9.1', '10.9.9.2', '10.9.9.3'] };
  return { error: 'getaddrinfo error -2 (Name or service not known)' };
};

export const BASE = 'base { redirector = iptables; }\n';

export function parse(text: string): LoadResult {
  return parseRedsocksConfig(text, 'test.conf', { resolve: fakeResolver });
}

/** Parses text that must fail and returns the error. */
export function reject(text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`config was accepted:\n${text}`);
}

export function rs(body: string, type = 'socks5'): string {
  return `${BASE}redsocks { type = ${type}; ${body} }\n`;
}
