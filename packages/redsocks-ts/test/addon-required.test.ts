/**
 * redsocks-ts without the mptcp-native addon: every redirector needs it, so `-t` and the start
 * fail naming file:line of each setting and the fix, instead of a gateway that starts and then
 * drops every LAN connection. MPTCP_NATIVE_PATH / MPTCP_SPLICE_PATH point the loader at a
 * missing file (docs/packaging.md). Also: the samples' placeholder password never runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, tsEntry } from '@mptcp-proxy/lab';

const CLI = tsEntry('packages/redsocks-ts/src/cli.ts');
const NO_ADDON = { MPTCP_NATIVE_PATH: '/nonexistent/mptcp-native' };
const NO_SPLICE = { MPTCP_SPLICE_PATH: '/nonexistent/mptcp_splice.node' };

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(CLI[0], [...CLI.slice(1), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rts-addon-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, base: string, instance: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `base {\n\tlog = stderr;\n${base}}\nredsocks {\n\tlocal_ip = 127.0.0.1;\n\tlocal_port = 0;\n\tip = 127.0.0.1;\n\tport = 1080;\n\ttype = socks5;\n${instance}}\n`);
  return f;
}

test('redirector = iptables: -t and the start fail with file:line and the fix', () => {
  const f = write('iptables.conf', '\tredirector = iptables;\n', '\tsplice = off;\n');
  expect(run(['-t', '-c', f]).status).toBe(0);
  for (const args of [['-t', '-c', f], ['-c', f]]) {
    const r = run(args, NO_ADDON);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('this configuration needs the mptcp-native addon:');
    expect(r.stderr).toContain(`${f}:3: redirector = iptables (SO_ORIGINAL_DST of each redirected connection)`);
    expect(r.stderr).toContain('mptcp_native.node is not loaded: native addon not loaded; tried /nonexistent/mptcp-native/mptcp_native.node: not found');
    expect(r.stderr).toMatch(/To fix: .*prebuilt addons for linux-x64 and linux-arm64/);
    expect(r.stderr).toContain('apt-get install python3 make g++ libcrypt-dev && cd ');
    // nothing claims a plain-TCP fallback that does not happen
    expect(r.stderr).not.toContain('falling back');
    expect(r.stderr).not.toContain('redsocks started');
  }
});

test('redirector = generic (TPROXY), mptcp = on, fastopen, bound paths, syslog: each named with its line', () => {
  const f = write('all.conf', '\tredirector = generic;\n\tlog = "syslog:daemon";\n',
    '\tsplice = off;\n\tmptcp = on;\n\tfastopen = on;\n\tpaths = "isp1 192.0.2.10 dev wan1, isp2 198.51.100.20 mark 7";\n');
  const r = run(['-t', '-c', f], NO_ADDON);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`${f}:3: redirector = generic (IP_TRANSPARENT on the TPROXY listener)`);
  expect(r.stderr).toContain(`${f}:4: log = "syslog:daemon" (the /dev/log datagram socket); or set log = stderr`);
  expect(r.stderr).toContain(`${f}:13: mptcp = on (IPPROTO_MPTCP sockets); or set mptcp = auto (plain TCP)`);
  expect(r.stderr).toContain(`${f}:14: fastopen = on (TCP_FASTOPEN_CONNECT); or set fastopen = off`);
  expect(r.stderr).toContain(`${f}:15: paths (isp1, isp2) (SO_BINDTODEVICE and SO_MARK)`);
});

test('splice needs mptcp_splice.node: the default and `splice = on` fail without it, `splice = off` passes', () => {
  const dflt = write('splice-default.conf', '\tredirector = iptables;\n', '');
  const on = write('splice-on.conf', '\tredirector = iptables;\n', '\tsplice = on;\n');
  const off = write('splice-off.conf', '\tredirector = iptables;\n', '\tsplice = off;\n');
  const r1 = run(['-t', '-c', dflt], NO_SPLICE);
  expect(r1.status).toBe(1);
  expect(r1.stderr).toContain(`${dflt}:5: splice = on (the default) (splice(2)); or set splice = off`);
  expect(r1.stderr).toContain('mptcp_splice.node is not loaded: /nonexistent/mptcp_splice.node: ');
  const r2 = run(['-t', '-c', on], NO_SPLICE);
  expect(r2.status).toBe(1);
  expect(r2.stderr).toContain(`${on}:11: splice = on (splice(2)); or set splice = off`);
  expect(run(['-t', '-c', off], NO_SPLICE)).toEqual({ status: 0, stderr: '' });
});

test('the samples\' placeholder password passes -t (as redsocks does) but never starts', () => {
  const f = write('placeholder.conf', '\tredirector = iptables;\n', '\tlogin = "gateway";\n\tpassword = "CHANGE-ME";\n');
  expect(run(['-t', '-c', f]).status).toBe(0);
  const r = run(['-c', f]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim()).toBe(`${f}:12: password is still the sample's placeholder "CHANGE-ME": set the password of your socks-server account`);
});

test('the shipped conf/redsocks.conf refuses to start until its password is changed', () => {
  const r = run(['-c', path.join(ROOT, 'conf/redsocks.conf')]);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/conf\/redsocks\.conf:\d+: password is still the sample's placeholder "CHANGE-ME"/);
});
