import { readFileSync } from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';

/**
 * Our container extension (`extension.passwordfile: PATH`): htpasswd-style
 * `user:hash` lines, hash in crypt(3) form ($6$ SHA-512, $y$ yescrypt,
 * $2b$/$2y$ bcrypt). `#` comments and blank lines are ignored.
 */
export function loadPasswordFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('EPASSWDFILE_OPEN', path, 0, `could not open password file: ${(err as Error).message}`);
  }
  const users = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || colon === line.length - 1) {
      throw new ConfigError('EPASSWDFILE_SYNTAX', path, i + 1, 'expected "user:hash"', line.slice(0, 32));
    }
    const hash = line.slice(colon + 1);
    if (!/^\$(6|5|y|2b|2y|2a|gy|7)\$/.test(hash)) {
      throw new ConfigError('EPASSWDFILE_HASH', path, i + 1,
        'unsupported hash: use SHA-512-crypt ($6$), yescrypt ($y$) or bcrypt ($2b$)', hash.slice(0, 4));
    }
    users.set(line.slice(0, colon), hash);
  }
  return users;
}
