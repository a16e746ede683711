/**
 * Our danted.conf verifier against the real `danted -V -f FILE` (Debian dante-server 1.4.2):
 * the same accept/reject verdict for every Dante example config and for generated broken
 * variants, and our errors name file:line and the token.
 *
 * `danted -V` does not bind, but resolves `internal:`/`external:` names: an interface name
 * that does not exist is looked up as a hostname and fails. Configs naming eth0 are therefore
 * also verified inside fresh namespaces with and without an eth0 (both tools in each).
 * The example passes `danted -V` on the host only because this machine has an eth0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@mptcp-proxy/common';
import { parseDantedConfig } from 'socks-server';
import { Netns, destroyAll, veth, compatExample, compatExamples, makeTestCerts } from '@mptcp-proxy/lab';

const ROOT = path.resolve(__dirname, '../..');
const VERIFY_CLI = path.join(ROOT, 'packages/socks-server/test/config/fixtures/verify-cli.ts');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

interface DanteVerdict {
  ok: boolean;
  line?: number;
  token?: string;
  text: string;
}

/** Run `danted -V -f file`, optionally inside a namespace. */
function danted(file: string, ns?: Netns): DanteVerdict {
  const argv = ns ? ['ip', 'netns', 'exec', ns.name, 'danted', '-V', '-f', file] : ['danted', '-V', '-f', file];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  const text = `${r.stdout}${r.stderr}`;
  const m = /error: .*?problem on line (\d+) near token "(.*?)"/.exec(text); // not warnings
  return { ok: r.status === 0, line: m ? Number(m[1]) : undefined, token: m?.[2], text };
}

type OurVerdict = { ok: true } | { ok: false; line: number; token?: string; detail: string; code: string };

function ours(file: string): OurVerdict {
  try {
    parseDantedConfig(fs.readFileSync(file, 'utf8'), file);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { ok: false, line: e.line, token: e.token, detail: e.detail, code: e.code };
  }
}

/** Our verifier run in a separate process inside the namespace. */
function oursIn(ns: Netns, file: string): OurVerdict {
  const out = ns.exec(`cd ${ROOT} && { ${TSX} ${VERIFY_CLI} ${file} || true; }`).trim(); // exits 1 on reject
  expect(out).toMatch(/^\{.*\}$/);
  return JSON.parse(out) as OurVerdict;
}

let dir: string;
beforeAll(() => {
  execFileSync('danted', ['-v']); // throws (fails the suite loudly) if danted is not installed
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'danted-verify-'));
});
afterAll(() => {
  destroyAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Dante example configs: same verdict as danted -V', () => {
  const files = compatExamples(/^(dante.*|danted.*|user-danted-.*)\.conf$/);

  it('finds the example configs', () => {
    expect(files).toEqual(expect.arrayContaining(['danted.conf', 'danted-basic.conf', 'danted-chaining.conf',
      'dante.conf', 'user-danted-username.conf', 'user-danted-open-lan.conf', 'user-danted-advanced.conf']));
  });

  it.each(files)('%s', (f) => {
    const file = compatExample(f);
    const d = danted(file);
    const o = ours(file);
    expect({ file: f, ok: o.ok }).toEqual({ file: f, ok: d.ok });
  });
});

describe('interface names are resolved in the namespace the verifier runs in', () => {
  const file = compatExample('user-danted-open-lan.conf'); // internal: eth0, external: eth0

  it('a namespace without eth0: both reject, naming eth0', () => {
    const ns = Netns.create('dv');
    const d = danted(file, ns);
    const o = oursIn(ns, file);
    expect(d.ok).toBe(false);
    expect(d.text).toContain('could not resolve hostname "eth0"');
    expect(o).toMatchObject({ ok: false, token: 'eth0', detail: 'could not resolve hostname "eth0": Name or service not known' });
    expect(o.ok === false && o.line).toBe(d.line);
  });

  it('a namespace with an eth0: both accept', () => {
    const ns = Netns.create('dv');
    veth(ns, 'eth0', '198.18.0.1/24', Netns.create('dvp'), 'eth0', '198.18.0.2/24'); // no dummy driver here
    expect(danted(file, ns).ok).toBe(true);
    expect(oursIn(ns, file)).toMatchObject({ ok: true });
  });
});

describe('our extension keywords: danted -V calls them syntax errors, we accept them', () => {
  it.each(['extension.metrics: 127.0.0.1 port = 9102', 'extension.syslog.ident: danted', 'extension.tls.internal: 127.0.0.1 port = 1443'])('%s', (line) => {
    const file = path.join(dir, `ext-${line.split(':')[0]}.conf`);
    // the TLS listener needs its certificate and key
    const certs = line.startsWith('extension.tls') ? makeTestCerts(path.join(dir, 'certs'), '127.0.0.1') : undefined;
    const tlsFiles = certs ? `extension.tls.cert: ${certs.serverCert}\nextension.tls.key: ${certs.serverKey}\n` : '';
    fs.writeFileSync(file, `logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n${line}\n${tlsFiles}`);
    const d = danted(file);
    expect(d.ok).toBe(false);
    expect(d.line).toBe(5);
    expect(ours(file)).toMatchObject({ ok: true });
  });
});

const HEAD = 'logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none username\n';
const RULES = 'client pass { from: 0/0 to: 0/0 }\nsocks pass { from: 0/0 to: 0/0 }\n';

interface Variant {
  name: string;
  text: string;
  /** For rejected variants: the line and token our error names. */
  line?: number;
  token?: string | null;
  /** Dante names the same line (false where it points at a later token on another line). */
  sameLine?: boolean;
}

const broken: Variant[] = [
  { name: 'missing netmask', text: `${HEAD}client pass { from: 10.0.0.1 to: 0/0 }\n`, line: 5, token: '10.0.0.1' },
  { name: 'missing IPv6 netmask', text: `${HEAD}socks pass { from: 0/0 to: 2001:db8::1 }\n`, line: 5, token: '2001:db8::1' },
  { name: 'dotted netmask', text: `${HEAD}client pass { from: 10.0.0.0/255.0.0.0 to: 0/0 }\n`, line: 5, token: '10.0.0.0/255.0.0.0' },
  { name: 'netmask too long', text: `${HEAD}client pass { from: 10.0.0.0/33 to: 0/0 }\n`, line: 5, token: '10.0.0.0/33' },
  { name: '0/8', text: `${HEAD}client pass { from: 0/8 to: 0/0 }\n`, line: 5, token: '0/8' },
  { name: 'rule before setting', text: `${HEAD}${RULES}debug: 1\n`, line: 7, token: 'debug:' },
  { name: 'rule before internal', text: `logoutput: stderr\n${RULES}internal: 127.0.0.1 port = 1080\n`, line: 4, token: 'internal:' },
  { name: 'unknown setting', text: `${HEAD}frobnicate: yes\n${RULES}`, line: 5, token: 'frobnicate:' },
  { name: 'unknown rule keyword', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nfrobnicate: yes\n}\n`, line: 7, token: 'frobnicate:' },
  { name: 'port without operator', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port 80 }\n`, line: 5, token: '80' },
  { name: 'port ==', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port == 80 }\n`, line: 5, token: '==' },
  { name: 'port neq', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port neq 80 }\n`, line: 5, token: 'neq' },
  { name: 'port too large', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port = 70000 }\n`, line: 5, token: '70000' },
  { name: 'unknown service', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port = nosuchsvc }\n`, line: 5, token: 'nosuchsvc' },
  { name: 'reversed range', text: `${HEAD}socks pass { from: 0/0 to: 0/0 port 100-50 }\n`, line: 5, token: '100-50' },
  { name: 'unterminated block', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\n`, line: 7, token: 'end of file' },
  { name: 'unterminated block at EOF without newline', text: `${HEAD}client pass { from: 0/0 to: 0/0`, line: 5, token: 'end of file', sameLine: false },
  { name: 'from without to', text: `${HEAD}socks pass { from: 0/0 }\n`, line: 5, token: '}' },
  { name: 'to without from', text: `${HEAD}socks pass { to: 0/0 }\n`, line: 5, token: 'to:' },
  { name: 'two rules on one line', text: `${HEAD}client pass { from: 0/0 to: 0/0 } client pass { from: 0/0 to: 0/0 }\n`, line: 5, token: 'client' },
  { name: 'protocol after internal', text: `logoutput: stderr\ninternal: 127.0.0.1 port = 1080\ninternal.protocol: ipv4\nexternal: 127.0.0.1\n`, line: 3, token: 'internal.protocol:' },
  { name: 'netmask on internal', text: `internal: 127.0.0.1/8 port = 1080\nexternal: 127.0.0.1\n`, line: 1, token: '127.0.0.1/8' },
  { name: 'internal port 0', text: `internal: 127.0.0.1 port = 0\nexternal: 127.0.0.1\n`, line: 1, token: '0' },
  { name: 'internal port without operator', text: `logoutput: stderr\ninternal: 127.0.0.1 port 1080\nexternal: 127.0.0.1\n`, line: 2, token: '1080', sameLine: false },
  { name: 'internal unknown interface', text: `logoutput: stderr\ninternal: eth9 port = 1080\nexternal: 127.0.0.1\n`, line: 2, token: 'eth9' },
  { name: 'no internal', text: `logoutput: stderr\nexternal: 127.0.0.1\nsocksmethod: none\n`, line: 4, token: null, sameLine: false },
  { name: 'no external', text: `logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nsocksmethod: none\n`, line: 4, token: null, sameLine: false },
  { name: 'unknown user', text: `${HEAD}user.privileged: no-such-user-zz\n`, line: 5, token: 'no-such-user-zz' },
  { name: 'clientmethod username', text: `${HEAD}clientmethod: username\n`, line: 5, token: 'username' },
  { name: 'socksmethod gssapi', text: `${HEAD}socksmethod: gssapi\n`, line: 5, token: 'gssapi' },
  { name: 'hostid rule', text: `${HEAD}hostid pass { from: 0/0 to: 0/0 }\n`, line: 5, token: 'hostid' },
  { name: 'bandwidth', text: `${HEAD}socks pass { from: 0/0 to: 0/0 bandwidth: 1000 }\n`, line: 5, token: '1000' },
  { name: 'redirect', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nredirect from: 10.0.0.1/32\n}\n`, line: 7, token: 'redirect', sameLine: false },
  { name: 'rule method not in global list', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsocksmethod: rfc931\n}\n`, line: 8, token: '}' },
  { name: 'session.state.throttle without key', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.state.throttle: 3/1\n}\n`, line: 8, token: '}' },
  { name: 'command in a client rule', text: `${HEAD}client pass {\nfrom: 0/0 to: 0/0\ncommand: connect\n}\n`, line: 7, token: 'command:' },
  { name: 'bad log value', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nlog: everything\n}\n`, line: 7, token: 'everything' },
  { name: 'bad command', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\ncommand: tunnel\n}\n`, line: 7, token: 'tunnel' },
  { name: 'negative number', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.max: -1\n}\n`, line: 7, token: '-1' },
  { name: 'octal digit 8', text: `${HEAD}timeout.io: 08\n`, line: 5, token: '08' },
  { name: 'old pam keyword', text: `${HEAD}pam: yes\n`, line: 5, token: 'pam:' },
];

const accepted: Variant[] = [
  { name: 'minimal', text: HEAD },
  { name: 'zero rules', text: `${HEAD}` },
  { name: 'internal without port', text: 'logoutput: stderr\ninternal: 127.0.0.1\nexternal: 127.0.0.1\nsocksmethod: none\n' },
  { name: 'interface names', text: 'logoutput: stderr\ninternal: lo port = 1080\nexternal: lo\nsocksmethod: none\n' },
  { name: 'IPv6 and hostname internal', text: 'logoutput: stderr\ninternal: ::1 port = 1080\ninternal: localhost port = 1081\nexternal: ::1\nsocksmethod: none\n' },
  { name: 'protocol before internal', text: 'logoutput: stderr\ninternal.protocol: ipv4\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n' },
  { name: 'deprecated 1.2 names', text: `logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nmethod: none\nuser.notprivileged: nobody\nconnecttimeout: 5\niotimeout: 6\nlocaldomain: example.org\n` },
  { name: 'bare pass', text: `${HEAD}pass { from: 0/0 to: 0/0 }\n` },
  { name: 'route', text: `${HEAD}route {\nfrom: 0/0 to: 0/0 via: 10.0.0.1 port = 1080\nproxyprotocol: socks_v5\nmethod: none\n}\n` },
  { name: 'monitor', text: `${HEAD}monitor { from: 0/0 to: 0/0 }\n` },
  { name: 'comments and continuation', text: `# hi\n${HEAD}socks pass { # c\n from: 0/0 \\\n to: 0/0 # c\n}\n` },
  { name: 'every port operator', text: `${HEAD}${['=', 'eq', '!=', 'ne', '>=', 'ge', '<=', 'le', '>', 'gt', '<', 'lt'].map((op) => `socks pass { from: 0/0 to: 0/0 port ${op} 80 }`).join('\n')}\nsocks pass { from: 0/0 to: 0/0 port 1-1023 }\nsocks pass { from: 0/0 to: 0/0 port 1 - 65535 }\nsocks pass { from: 0/0 to: 0/0 port = https }\n` },
  { name: 'address forms', text: `${HEAD}socks pass { from: 0.0.0.0/0 to: .example.com }\nsocks pass { from: ::/0 to: www.example.com }\nsocks pass { from: 10.1.2.3/8 to: lo }\nsocks pass { from: 0/0 port = 80 to: 2001:db8::/32 }\n` },
  { name: 'conditions and actions', text: `${HEAD}socks pass {\nfrom: 0/0 to: 0/0 port = 80 log: error\ncommand: connect bind udpassociate bindreply udpreply\nprotocol: tcp udp\nproxyprotocol: socks_v4 socks_v5\nsocksmethod: username\nuser: alice bob\nlog: connect disconnect data error iooperation ioop tcpinfo\nsession.max: 10\nsession.throttle: 5/1\nsession.state.key: from\nsession.state.max: 3\ntimeout.io: 60\ntimeout.connect: 5\nudp.portrange: 40000-40100\n}\n` },
  { name: 'settings sharing a line', text: 'debug: 1 logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n' },
  { name: 'Dante extension bind and socket options', text: `${HEAD}extension: bind\nexternal.tcp.tcp_nodelay: 1\n` },
];

function write(name: string, text: string): string {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.conf`);
  fs.writeFileSync(file, text);
  return file;
}

describe('generated broken variants: both reject; ours names file:line and the token', () => {
  it.each(broken.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const file = write(v.name, v.text);
    const d = danted(file);
    const o = ours(file);
    expect({ ok: o.ok }).toEqual({ ok: d.ok });
    expect(d.ok).toBe(false);
    if (o.ok) throw new Error('unreachable');
    expect(o.line).toBe(v.line);
    expect(o.token).toBe(v.token ?? undefined);
    if (v.sameLine !== false) expect(o.line).toBe(d.line);
    const err = (() => {
      try {
        parseDantedConfig(v.text, file);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no error');
    })();
    // file:line, then the token's column when the error names a token on that line
    expect(err.message.startsWith(err.column === undefined ? `${file}:${v.line}: ` : `${file}:${v.line}:${err.column}: `)).toBe(true);
    if (v.token) expect(err.message).toContain(`"${v.token}"`);
  });
});

describe('generated valid variants: both accept', () => {
  it.each(accepted.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const file = write(v.name, v.text);
    const d = danted(file);
    const o = ours(file);
    expect({ ok: o.ok, danted: d.ok }).toEqual({ ok: true, danted: true });
  });
});

/**
 * Differential fuzz: seeded random configs built from valid and broken pieces, each checked
 * by both tools. Any disagreement fails with the config text.
 */
describe('random configs: same verdict as danted -V', () => {
  const SETTINGS = [
    'logoutput: stderr stdout', 'errorlog: stderr', 'debug: 1', 'debug: 0x2', 'internal.protocol: ipv4',
    'internal.protocol: ipv4 ipv6', 'external.protocol: ipv6', 'external.rotation: none', 'external.rotation: same-same',
    'external.rotation: route', 'socksmethod: none', 'socksmethod: username none', 'socksmethod: pam.username',
    'socksmethod: rfc931', 'clientmethod: none', 'clientmethod: rfc931', 'clientmethod: pam.address', 'user.privileged: root',
    'user.unprivileged: nobody', 'user.libwrap: nobody', 'timeout.negotiate: 10', 'timeout.io: 0', 'timeout.io.tcp: 3600',
    'timeout.io.udp: 60', 'timeout.connect: 30', 'timeout.tcp_fin_wait: 0', 'udp.connectdst: yes', 'srchost: nodnsmismatch',
    'compatibility: sameport', 'child.maxrequests: 5', 'external.tcp.tcp_nodelay: 1', 'internal: 127.0.0.1 port = 1080',
    'internal: ::1 port = 1081', 'external: 127.0.0.1', 'external: lo', 'internal: lo port = 1082', 'method: none',
    'user.notprivileged: nobody', 'connecttimeout: 3',
    // broken pieces
    'internal: 127.0.0.1 port 1080', 'clientmethod: username', 'frob: 1', 'internal: eth9 port = 1',
  ];
  const ADDR = ['0/0', '0/0', '0.0.0.0/0', '::/0', '10.0.0.0/8', '192.0.2.1/32', '2001:db8::/32', '.example.com', 'example.com',
    'lo', '127.0.0.0/8', '10.0.0.1', '10.0.0.0/33', '0/8'];
  const PORT = ['', '', '', '', ' port = 80', ' port 1-1023', ' port >= 1024', ' port lt 1024', ' port = http', ' port ne 22',
    ' port 1 - 65535', ' port 80', ' port = 70000', ' port neq 5', ' port 9-3'];
  const SOCKS_LINES = ['command: connect', 'command: bind udpassociate', 'command: udpreply bindreply', 'protocol: tcp',
    'protocol: udp tcp', 'proxyprotocol: socks_v5', 'proxyprotocol: socks_v4 socks_v5', 'socksmethod: none',
    'socksmethod: username', 'socksmethod: rfc931', 'socksmethod: pam.username', 'clientmethod: none', 'user: alice',
    'group: root', 'log: connect disconnect error', 'log: iooperation data tcpinfo', 'session.max: 5', 'session.throttle: 10/1',
    'session.state.key: from', 'session.state.max: 2', 'udp.portrange: 1000-2000', 'timeout.io: 60', 'timeout.connect: 5',
    'timeout.negotiate: 5', 'timeout.tcp_fin_wait: 3', 'pam.servicename: x', 'method: none', 'external.tcp.tcp_nodelay: 1',
    'command: foo', 'log: everything', 'bandwidth: 5', 'session.state.throttle: 1/1', 'udp.portrange: 5-1', 'libwrap: x',
    'user: alice }'];
  const CLIENT_LINES = ['clientmethod: none', 'clientmethod: rfc931', 'clientmethod: pam.address', 'log: connect error',
    'session.max: 3', 'session.throttle: 1/1', 'timeout.negotiate: 5', 'user: root', 'socksmethod: none', 'method: none',
    'pam.servicename: x'];

  function generate(seed: number, count: number): string[] {
    let s = seed;
    const r = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
      return s / 0x7fffffff;
    };
    const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
    const out: string[] = [];
    for (let n = 0; n < count; n++) {
      const lines = ['logoutput: stderr'];
      const settings = 2 + Math.floor(r() * 6);
      for (let k = 0; k < settings; k++) lines.push(pick(SETTINGS));
      if (r() < 0.9) lines.push('internal: 127.0.0.1 port = 1080');
      if (r() < 0.9) lines.push('external: 127.0.0.1');
      const rules = Math.floor(r() * 4);
      for (let k = 0; k < rules; k++) {
        const client = r() < 0.4;
        lines.push(`${client ? 'client' : 'socks'} ${pick(['pass', 'block'])} {`);
        lines.push(`  from: ${pick(ADDR)}${pick(PORT)} to: ${pick(ADDR)}${pick(PORT)}`);
        const extra = Math.floor(r() * 3);
        for (let j = 0; j < extra; j++) lines.push(`  ${pick(client ? CLIENT_LINES : SOCKS_LINES)}`);
        lines.push('}');
      }
      out.push(`${lines.join('\n')}\n`);
    }
    return out;
  }

  it('agrees on 120 generated configs', () => {
    const configs = generate(20261125, 120);
    const disagreements: string[] = [];
    let rejected = 0;
    configs.forEach((text, n) => {
      const file = write(`random-${n}`, text);
      const d = danted(file);
      const o = ours(file);
      if (!d.ok) rejected++;
      if (d.ok !== o.ok) {
        disagreements.push(`#${n} danted=${d.ok} ours=${o.ok}\n${text}${d.text}\n${o.ok ? '' : `${o.line} ${o.detail}`}`);
      }
    });
    expect(disagreements).toEqual([]);
    // the mix must exercise both verdicts
    expect(rejected).toBeGreaterThan(12);
    expect(rejected).toBeLessThan(110);
  });
});
