/**
 * What both daemons share for TLS on the WAN leg (docs/tls.md): reading PEM files named in a
 * config, and certificate fingerprints (pins). Pure apart from the file reads.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** `sha256:` followed by 64 hex digits, colons allowed (openssl x509 -fingerprint -sha256 prints them). */
export function parsePin(text: string): string | undefined {
  const m = /^sha256:([0-9a-fA-F:]+)$/.exec(text.trim());
  if (!m) return undefined;
  const hex = m[1].replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/** The pin of a DER certificate: lower-case hex SHA-256. */
export function certPin(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('hex');
}

/**
 * Reads a PEM file named in a config: its text, or a sentence saying why not (unreadable, or
 * no `-----BEGIN what` block in it).
 */
export function readPem(file: string, what: 'CERTIFICATE' | 'PRIVATE KEY'): { pem: string } | { error: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `cannot read ${file}: ${(e as Error).message}` };
  }
  const re = what === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
  if (!re.test(text)) return { error: `${file} holds no PEM ${what.toLowerCase()}` };
  return { pem: text };
}
