/** Pure pieces: method selection, Dante line builders, pool negotiate timeout, password files. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@mptcp-proxy/common';
import { selectMethod, type MethodPolicy } from '../src/session/method-select';
import { acceptOpen, commandClosed, danteLinePrefix, dotAddr, clientAddr } from '../src/log/dante-format';
import { namesPeers, negotiateTimeoutFor } from '../src/server';
import { parseDantedConfig } from '../src/config';
import { SharedState } from '../src/runtime';
import { loadPasswordFile } from '../src/auth/password-file';
import { removeTempDir, tempDir } from '@mptcp-proxy/lab';

const policy = (p: Partial<MethodPolicy>): MethodPolicy => ({
  socksMethods: ['none'], ocMethod: 0xa5, ocAuthMethod: 0xa6, ocNoAuthAllowed: false, ocAuthAllowed: true, ...p,
});

describe('selectMethod', () => {
  test('server order wins; none is never picked when not configured', () => {
    expect(selectMethod([0, 2], policy({ socksMethods: ['username', 'none'] })).wire).toBe(2);
    expect(selectMethod([0, 2], policy({ socksMethods: ['none', 'username'] })).wire).toBe(0);
    expect(selectMethod([0], policy({ socksMethods: ['username'] })).wire).toBe(0xff);
    expect(selectMethod([1], policy({})).wire).toBe(0xff);
  });

  test('OC methods only when allowed, and A6 implies auth', () => {
    expect(selectMethod([0xa5, 0], policy({})).wire).toBe(0);
    expect(selectMethod([0xa5, 0], policy({ ocNoAuthAllowed: true }))).toEqual({ wire: 0xa5, method: 'none', optimistic: true, needsAuth: false });
    expect(selectMethod([0xa6, 2], policy({ socksMethods: ['username'] }))).toEqual({ wire: 0xa6, method: 'username', optimistic: true, needsAuth: true });
    expect(selectMethod([0xa6, 2], policy({ socksMethods: ['username'], ocAuthAllowed: false })).wire).toBe(2);
    expect(selectMethod([0x90, 0], policy({ ocNoAuthAllowed: true, ocMethod: 0x90 })).wire).toBe(0x90);
  });
});

describe('Dante line builders', () => {
  test('prefix, addresses and close line', () => {
    const t = new Date(2026, 10, 5, 7, 8, 9).getTime() + 0.25;
    expect(danteLinePrefix('info', t, 42)).toMatch(/^Nov  5 07:08:09 \(\d+\.000250\) danted\[42\]: info: $/);
    expect(dotAddr('10.0.0.1', 1080)).toBe('10.0.0.1.1080');
    expect(clientAddr('10.0.0.1', 5, 'bob')).toBe('username%bob@10.0.0.1.5');
    expect(acceptOpen('pass', 1, 'a.1', 'b.2')).toBe('pass(1): tcp/accept [: a.1 b.2');
    expect(commandClosed('pass', 2, 'tcp', 'connect', 'C', 'S', 'L', 'D', { fromClient: 79, toClient: 441, toDest: 79, fromDest: 441 }, 'remote peer closed', 0))
      .toBe('pass(2): tcp/connect ]: 441 -> C S -> 79, 79 -> L D -> 441: remote peer closed.  Session duration: 0s');
  });
});

describe('pool negotiate timeout', () => {
  const rt = { negotiateMs: 30_000, poolNegotiateMs: 300_000 };
  test('allowlisted or recently authenticated peers get the pool timeout', () => {
    const shared = new SharedState();
    expect(negotiateTimeoutFor(rt, shared, '10.0.0.1', false, 1_000_000)).toBe(30_000);
    expect(negotiateTimeoutFor(rt, shared, '10.0.0.1', true, 1_000_000)).toBe(300_000);
    shared.recentAuth.set('10.0.0.1', 1_000_000);
    expect(negotiateTimeoutFor(rt, shared, '10.0.0.1', false, 1_100_000)).toBe(300_000);
    expect(negotiateTimeoutFor(rt, shared, '10.0.0.2', false, 1_100_000)).toBe(30_000);
    expect(negotiateTimeoutFor(rt, shared, '10.0.0.1', false, 1_400_001)).toBe(30_000);
    expect(negotiateTimeoutFor({ negotiateMs: 0, poolNegotiateMs: 5 }, shared, 'x', true, 0)).toBe(0);
  });
});

test('client rules that name peers in from: are the OC/pool allowlist', () => {
  const { config } = parseDantedConfig(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
client pass { from: 192.0.2.7/32 to: 0/0 }
client pass { from: 0.0.0.0/0 to: 0/0 }
client pass { from: 0/0 to: 0/0 }
`, 'allow.conf');
  expect(config.clientRules.map(namesPeers)).toEqual([true, false, false]);
});

describe('password file', () => {
  const dir = tempDir('socks-pw-');
  afterAll(() => removeTempDir(dir));
  test('user:hash lines, comments; bad lines name file:line', () => {
    const ok = join(dir, 'ok');
    writeFileSync(ok, '# c\n\nalice:$6$s$abc\nbob:$2b$10$abcdefghijklmnopqrstuv\ncarol:$y$j9T$x$y\n');
    expect([...loadPasswordFile(ok).keys()]).toEqual(['alice', 'bob', 'carol']);
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'alice:$6$s$abc\nbob:plaintext\n');
    try {
      loadPasswordFile(bad);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).line).toBe(2);
      expect((e as ConfigError).code).toBe('EPASSWDFILE_HASH');
    }
  });
});

describe('unsupported methods fail at start', () => {
  test('pam.username and rfc931 are refused with a clear message', async () => {
    const { parseDantedConfig, startServer } = await import('../src');
    for (const m of ['pam.username', 'rfc931']) {
      const { config } = parseDantedConfig(`internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: ${m} none\n`, 'pam.conf');
      for (const i of config.internal) i.port = 0;
      await expect(startServer(config)).rejects.toMatchObject({ code: 'EAUTH_UNSUPPORTED', message: expect.stringContaining(`method "${m}"`) });
    }
  });
});
