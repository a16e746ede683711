/**
 * Every config shipped in conf/ loads in our parsers, agrees with the real Debian programs
 * (`redsocks -t -c`, `danted -V -f`) except for our documented extension keys, and is not an
 * open proxy by accident. The nftables files pass `nft -c` and the sysctl files apply, each in
 * a fresh namespace.
 *
 * `danted -V` and our loader resolve `external: eth0`. On a host whose interface has another
 * name, the danted configs are checked as copies that name the host's first interface instead.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXTENSION_DEFAULTS, loadRedsocksConfig, type RedsocksConfig } from 'redsocks-ts';
import {
  loadDantedConfig, loadPasswordFile, matchRule, type DantedConfig, type MatchContext, type Rule, type RuleAddress,
} from 'socks-server';
import { Netns, destroyAll } from '@mptcp-proxy/lab';

const ROOT = path.resolve(__dirname, '../..');
const CONF = path.join(ROOT, 'conf');

const confFiles = fs.readdirSync(CONF).filter((f) => f.endsWith('.conf')).sort();
const redsocksFiles = confFiles.filter((f) => f.startsWith('redsocks'));
const dantedFiles = confFiles.filter((f) => f.startsWith('danted'));
const nftFiles = fs.readdirSync(path.join(CONF, 'nftables')).filter((f) => f.endsWith('.nft')).sort();
const sysctlFiles = fs.readdirSync(path.join(CONF, 'sysctl.d')).filter((f) => f.endsWith('.conf')).sort();

/** redsocks-ts's extension keys, spelled as in redsocks.conf (`optimisticMaxEarly` -> `optimistic_max_early`). */
const REDSOCKS_EXT_KEYS = Object.keys(EXTENSION_DEFAULTS).map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipped-conf-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  destroyAll();
});

function run(argv: string[]): { status: number | null; out: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function writeTmp(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The interface the shipped danted configs' `external: eth0` stands for on this host. */
function externalIface(): string {
  const ifs = os.networkInterfaces();
  if (ifs.eth0?.length) return 'eth0';
  const other = Object.entries(ifs).find(([, a]) => a?.some((x) => !x.internal && x.family === 'IPv4'));
  if (!other) throw new Error('this host has no interface with an IPv4 address for `external:`');
  return other[0];
}
const EXT_IFACE = externalIface();

const isLoopback = (a: string): boolean => /^127\./.test(a) || a === '::1' || a === 'localhost';

test('conf/ ships the expected configs', () => {
  expect(redsocksFiles).toEqual(expect.arrayContaining(['redsocks.conf', 'redsocks-tproxy.conf']));
  expect(dantedFiles).toEqual(expect.arrayContaining(['danted.conf', 'danted-plain.conf']));
  expect(nftFiles).toEqual(['gateway-redirect.nft', 'gateway-tproxy.nft']);
  expect(sysctlFiles).toEqual(['90-mptcp-gateway.conf', '90-mptcp-server.conf']);
  // Every conf/*.conf is one of the two kinds, so none escapes the checks below.
  expect(redsocksFiles.length + dantedFiles.length).toBe(confFiles.length);
});

describe.each(redsocksFiles)('conf/%s', (name) => {
  const file = path.join(CONF, name);
  const text = fs.readFileSync(file, 'utf8');
  let config: RedsocksConfig;

  test('loads in our parser without warnings', () => {
    const r = loadRedsocksConfig(file);
    config = r.config;
    expect(r.warnings).toEqual([]);
    expect(config.base.present).toBe(true);
    expect(config.redsocks.length).toBeGreaterThan(0);
    expect(text.endsWith('\n')).toBe(true); // redsocks ignores a last line without one
  });

  test('real redsocks -t rejects only our extension keys', () => {
    const usedExt = text
      .split('\n')
      .map((l) => /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=/.exec(l)?.[1])
      .filter((k): k is string => k !== undefined && REDSOCKS_EXT_KEYS.includes(k));
    const real = run(['redsocks', '-t', '-c', file]);
    if (usedExt.length === 0) {
      expect(real).toEqual({ status: 0, out: expect.any(String) });
      return;
    }
    expect(real.status).toBe(1);
    const m = /assignment with unknown key <([^>]+)>/.exec(real.out);
    expect(m && REDSOCKS_EXT_KEYS.includes(m[1])).toBe(true);
    // Without the extension keys the same file is plain redsocks 0.5, for both parsers.
    const keyRe = new RegExp(`^\\s*(${REDSOCKS_EXT_KEYS.join('|')})\\s*=.*$`);
    const stripped = writeTmp(`stripped-${name}`, text.split('\n').filter((l) => !keyRe.test(l)).join('\n'));
    expect(run(['redsocks', '-t', '-c', stripped])).toEqual({ status: 0, out: '' });
    expect(loadRedsocksConfig(stripped).warnings).toEqual([]);
  });

  test('is not an open relay: a loopback listener, or a documented nftables guard', () => {
    for (const inst of config.redsocks) {
      if (isLoopback(inst.localIp)) continue;
      // A non-loopback listener needs the nftables file it names, which must let only
      // REDIRECTed connections reach local_port and reset every other one.
      const m = /nftables pairing: (conf\/nftables\/[\w.-]+\.nft)/.exec(text);
      expect(m).not.toBeNull();
      const nft = fs.readFileSync(path.join(ROOT, m![1]), 'utf8');
      expect(nft).toMatch(new RegExp(`^define PROXY_PORT = ${inst.localPort}$`, 'm'));
      expect(nft).toMatch(/^\s*tcp dport \$PROXY_PORT ct status dnat accept$/m);
      expect(nft).toMatch(/^\s*tcp dport \$PROXY_PORT (reject with tcp reset|drop)$/m);
      expect(nft).toMatch(/^\s*ip daddr \$SOCKS_SERVER return$/m);
      expect(nft).toMatch(new RegExp(`^define SOCKS_SERVER = ${inst.ip.replace(/\./g, '\\.')}$`, 'm'));
    }
    for (const inst of config.redsocks.filter((i) => isLoopback(i.localIp))) {
      const m = /nftables pairing: (conf\/nftables\/[\w.-]+\.nft)/.exec(text);
      if (m) expect(fs.readFileSync(path.join(ROOT, m[1]), 'utf8')).toMatch(new RegExp(`^define PROXY_PORT = ${inst.localPort}$`, 'm'));
    }
  });
});

// ---------------------------------------------------------------------------------------------

const AUTH_METHODS = new Set(['username', 'pam.username', 'gssapi']);

function isAnyAddress(a: RuleAddress): boolean {
  return a.kind === 'any' || ((a.kind === 'ipv4' || a.kind === 'ipv6') && a.prefix === 0);
}

function internalIsLoopback(c: DantedConfig): boolean {
  return c.internal.every((i) => (i.kind === 'interface' ? i.value === 'lo' : isLoopback(i.value)));
}

/** The reasons a danted config is not an open proxy (empty = it is one). */
function closedBecause(c: DantedConfig): string[] {
  const why: string[] = [];
  if (internalIsLoopback(c)) why.push('loopback only');
  if (c.socksMethod.length > 0 && c.socksMethod.every((m) => AUTH_METHODS.has(m))) why.push('authentication required');
  const clientPass = c.clientRules.filter((r: Rule) => r.action === 'pass');
  if (clientPass.every((r) => !isAnyAddress(r.from))) why.push('client allowlist');
  return why;
}

function socksCtx(c: DantedConfig, host: string, resolved?: string): MatchContext {
  return {
    clientAddress: '192.0.2.10', clientPort: 40000,
    serverAddress: '192.0.2.1', serverPort: c.internal[0]?.port ?? 1080,
    command: 'connect', protocol: 'tcp', proxyProtocol: 'socks_v5',
    method: c.socksMethod[0] ?? 'none', user: 'gateway',
    dest: { host, port: 443 },
    destAddresses: resolved !== undefined ? [resolved] : undefined,
  };
}

describe.each(dantedFiles)('conf/%s', (name) => {
  const shipped = fs.readFileSync(path.join(CONF, name), 'utf8');
  const text = EXT_IFACE === 'eth0' ? shipped : shipped.replace(/\beth0\b/g, EXT_IFACE);
  let file = path.join(CONF, name);
  beforeAll(() => {
    if (text !== shipped) file = writeTmp(name, text);
  });
  let config: DantedConfig;
  const extLine = (l: string): boolean => /^\s*extension\./.test(l) || /^\s*optimistic:/.test(l);

  test('loads in our loader without warnings', () => {
    const r = loadDantedConfig(file);
    config = r.config;
    expect(r.warnings).toEqual([]);
    expect(config.internal.length).toBeGreaterThan(0);
    if (config.ext.passwordFile !== undefined) expect(config.socksMethod).toContain('username');
  });

  test('real danted -V accepts it, or rejects only our extension keywords', () => {
    const lines = text.split('\n');
    const real = run(['danted', '-V', '-f', file]);
    if (!lines.some(extLine)) {
      expect(real.status).toBe(0);
      expect(real.out).not.toMatch(/warning:|error:/);
      return;
    }
    expect(real.status).toBe(1);
    const m = /error: .*?problem on line (\d+)/.exec(real.out);
    expect(m).not.toBeNull();
    expect(extLine(lines[Number(m![1]) - 1])).toBe(true);
    const stripped = writeTmp(`stripped-${name}`, lines.filter((l) => !extLine(l)).join('\n'));
    const again = run(['danted', '-V', '-f', stripped]);
    expect(again.status).toBe(0);
    expect(again.out).not.toMatch(/warning:|error:/);
    expect(loadDantedConfig(stripped).warnings).toEqual([]);
  });

  test('is not an open proxy (auth, allowlist or loopback)', () => {
    expect(closedBecause(config).length).toBeGreaterThan(0);
    // The shipped ones are closed all three ways but loopback, and say so.
    expect(closedBecause(config)).toEqual(['authentication required', 'client allowlist']);
    // Clients outside the allowlist are refused at accept; the gateway's address is let in.
    const client = (addr: string): boolean =>
      matchRule(config.clientRules, { ...socksCtx(config, '203.0.113.7'), clientAddress: addr, dest: undefined }).pass;
    expect(client('203.0.113.99')).toBe(false);
    expect(client('10.0.0.5')).toBe(false);
    expect(client('192.0.2.10')).toBe(true);
    expect(client('127.0.0.1')).toBe(true);
  });

  test('blocks loopback, private and link-local destinations, also by name', () => {
    const pass = (host: string, resolved?: string): boolean => matchRule(config.socksRules, socksCtx(config, host, resolved)).pass;
    for (const dst of ['127.0.0.1', '127.1.2.3', '0.0.0.0', '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.1',
      '169.254.169.254', '100.64.0.1', '224.0.0.1', '255.255.255.255', '::1', '::', 'fd00::1', 'fe80::1',
      '::ffff:127.0.0.1', '::ffff:192.168.0.1']) {
      expect([dst, pass(dst)]).toEqual([dst, false]);
    }
    // The server's own address on its external interface.
    const own = (os.networkInterfaces()[EXT_IFACE] ?? []).map((a) => a.address);
    expect(own.length).toBeGreaterThan(0);
    for (const a of own) expect([a, pass(a)]).toEqual([a, false]);
    expect(pass('localhost', '127.0.0.1')).toBe(false);
    expect(pass('intranet.example', '192.168.10.10')).toBe(false);
    // Public destinations pass, for the authenticated gateway.
    expect(pass('93.184.215.14')).toBe(true);
    expect(pass('2001:db8::1')).toBe(true);
    expect(pass('example.com', '93.184.215.14')).toBe(true);
    // Only CONNECT: no BIND or UDP relay from the internet side.
    expect(matchRule(config.socksRules, { ...socksCtx(config, '93.184.215.14'), command: 'bind' }).pass).toBe(false);
  });
});

test('conf/socks-server.passwd.example loads and grants nobody access', () => {
  const users = loadPasswordFile(path.join(CONF, 'socks-server.passwd.example'));
  expect(users.size).toBe(0);
  // Its commented sample line has the right shape once uncommented.
  const sample = fs.readFileSync(path.join(CONF, 'socks-server.passwd.example'), 'utf8').split('\n').find((l) => l.startsWith('#gateway:'));
  const file = writeTmp('passwd', `${sample!.slice(1)}\n`);
  expect([...loadPasswordFile(file).keys()]).toEqual(['gateway']);
});

// The systemd units are checked as installed, by tests/conf/install.test.ts.

// ---------------------------------------------------------------------------------------------

describe('nftables and sysctl files', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = Netns.create('conf');
  });
  afterAll(() => ns.destroy());

  test.each(nftFiles)('nft -c -f conf/nftables/%s passes in a fresh namespace', (name) => {
    const r = run(['ip', 'netns', 'exec', ns.name, 'nft', '-c', '-f', path.join(CONF, 'nftables', name)]);
    expect(r).toEqual({ status: 0, out: '' });
  });

  test.each(sysctlFiles)('conf/sysctl.d/%s applies in a fresh namespace, one comment per setting', (name) => {
    const file = path.join(CONF, 'sysctl.d', name);
    const r = run(['ip', 'netns', 'exec', ns.name, 'sysctl', '-p', file]);
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const settings = lines.map((l, i) => [l, i] as const).filter(([l]) => /^[a-z]/.test(l));
    expect(settings.length).toBeGreaterThan(3);
    for (const [l, i] of settings) {
      expect([l, lines[i - 1].startsWith('#') || /^[a-z]/.test(lines[i - 1])]).toEqual([l, true]);
      const [key, value] = l.split('=').map((s) => s.trim());
      expect(ns.exec(`sysctl -n ${key}`).trim()).toBe(value);
    }
    expect(lines.some((l) => /^net\.mptcp\.enabled = 1$/.test(l))).toBe(true);
  });
});
