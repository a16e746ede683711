/**
 * Real installs of the npm tarballs that scripts/pack.sh makes (with the linux-x64 prebuilt
 * addon): each tarball installs alone with `npm install -g --offline` (no registry: everything is
 * bundled), carries LICENSE, its exports map and its conf/ files, and its bins run from the
 * install prefix with the prebuilt addon. A tarball without a prebuilt addon whose build fails
 * makes the install fail loudly (MPTCP_NATIVE_OPTIONAL=1 lets it through). The installed systemd
 * units pass `systemd-analyze verify` with the bins where systemd looks for them (the install's
 * bin/ bind-mounted over /usr/local/bin in a private mount namespace), score low in
 * `systemd-analyze security`, and grant what the daemons need and no more: the same capability
 * sets, given to the installed daemons with setpriv, start them (and one less does not). The
 * logrotate snippets pass `logrotate -d` as the sysusers files' users.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from '@mptcp-proxy/lab';

const ROOT = path.resolve(__dirname, '../..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TGZ = {
  native: `mptcp-native-${VERSION}.tgz`,
  common: `mptcp-proxy-common-${VERSION}.tgz`,
  socks: `socks-server-${VERSION}.tgz`,
  redsocks: `redsocks-ts-${VERSION}.tgz`,
};

let tmp: string;
let packDir: string;

function run(argv: string[], opts: SpawnSyncOptions = {}): { status: number | null; out: string; err: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 240000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, out: String(r.stdout), err: String(r.stderr) };
}

/** `npm install -g --offline` of tarballs into a fresh prefix; returns the prefix. */
function install(name: string, tarballs: string[], env: NodeJS.ProcessEnv = {}): { prefix: string; status: number | null; out: string; err: string } {
  const prefix = path.join(tmp, name);
  const r = run(['npm', 'install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, ...tarballs],
    { env: { ...process.env, ...env } });
  return { prefix, ...r };
}

const list = (tgz: string): string[] => run(['tar', '-tzf', tgz]).out.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
const manifest = (tgz: string): Record<string, unknown> => JSON.parse(run(['tar', '-xzOf', tgz, 'package/package.json']).out) as Record<string, unknown>;

/** Shipped conf/ files (conf/lab/ is the test lab's). */
function confFiles(dir = path.join(ROOT, 'conf'), rel = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) return r === 'lab' ? [] : confFiles(path.join(dir, e.name), r);
    return [r];
  });
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'install-test-'));
  fs.chmodSync(tmp, 0o755); // the daemons run as nobody below
  packDir = path.join(tmp, 'pack');
  const r = run(['bash', path.join(ROOT, 'scripts/pack.sh'), 'x64'], { env: { ...process.env, PACK_OUT: packDir } });
  expect([r.status, r.err.slice(-2000)]).toEqual([0, expect.any(String)]);
}, 300000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the tarballs', () => {
  test('each carries LICENSE, an exports map, and bundles everything it needs', () => {
    for (const t of Object.values(TGZ)) {
      const files = list(path.join(packDir, t));
      expect([t, files.includes('LICENSE')]).toEqual([t, true]);
      const m = manifest(path.join(packDir, t));
      expect([t, (m.exports as Record<string, unknown>)['.']]).toEqual([t, { types: './dist/index.d.ts', default: './dist/index.js' }]);
      const deps = Object.keys((m.dependencies ?? {}) as Record<string, string>);
      expect([t, m.bundleDependencies]).toEqual([t, deps]);
      for (const d of deps) expect([t, d, files.includes(`node_modules/${d}/package.json`)]).toEqual([t, d, true]);
    }
  });

  test('mptcp-native carries both prebuilt files for linux-x64, the sources for a rebuild and install.js', () => {
    const files = list(path.join(packDir, TGZ.native));
    for (const f of ['prebuilds/linux-x64/mptcp_native.node', 'prebuilds/linux-x64/mptcp_splice.node', 'binding.gyp', 'install.js', 'src/native/addon.cc']) {
      expect([f, files.includes(f)]).toEqual([f, true]);
    }
    expect(manifest(path.join(packDir, TGZ.native)).scripts).toMatchObject({ install: 'node install.js' });
  });

  test('every shipped conf/ file is in a daemon tarball, under conf/', () => {
    const shipped = new Set([...list(path.join(packDir, TGZ.socks)), ...list(path.join(packDir, TGZ.redsocks))]);
    const all = confFiles();
    expect(all.length).toBeGreaterThan(15);
    for (const f of all) expect([f, shipped.has(`conf/${f}`)]).toEqual([f, true]);
  });
});

describe('npm install -g of one tarball at a time, offline', () => {
  test('mptcp-native alone: the prebuilt addon loads, nothing is compiled', () => {
    const r = install('native', [path.join(packDir, TGZ.native)]);
    expect([r.status, r.err]).toEqual([0, expect.any(String)]);
    const dir = path.join(r.prefix, 'lib/node_modules/mptcp-native');
    const st = run(['node', '-e', `const a = require(${JSON.stringify(dir)}).addonStatus(); console.log(JSON.stringify(a))`]);
    expect(JSON.parse(st.out)).toMatchObject({ loaded: true, path: path.join(dir, 'prebuilds/linux-x64/mptcp_native.node') });
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
  });

  test('@mptcp-proxy/common alone loads', () => {
    const r = install('common', [path.join(packDir, TGZ.common)]);
    expect(r.status).toBe(0);
    const dir = path.join(r.prefix, 'lib/node_modules/@mptcp-proxy/common');
    expect(run(['node', '-e', `console.log(typeof require(${JSON.stringify(dir)}).ProxyError)`]).out).toBe('function\n');
  });

  let socksPrefix: string;
  let redsocksPrefix: string;
  test('socks-server alone: the bin runs, -V passes on its shipped danted.conf, the man page is installed', () => {
    const r = install('socks', [path.join(packDir, TGZ.socks)]);
    expect([r.status, r.err]).toEqual([0, expect.any(String)]);
    socksPrefix = r.prefix;
    const bin = path.join(r.prefix, 'bin/socks-server');
    expect(run([bin, '-v']).out).toBe(`socks-server v${VERSION} (a drop-in for Dante v1.4.2's danted)\n`);
    const conf = path.join(r.prefix, 'lib/node_modules/socks-server/conf/danted.conf');
    // external: eth0 in the sample: check it as a copy naming this host's loopback instead, and
    // give it the password file it names (-V fails on a missing one, as the start would)
    const copy = path.join(tmp, 'danted.conf');
    const pw = path.join(tmp, 'passwd');
    fs.writeFileSync(pw, 'gateway:$6$saltsalt$8RWsOfwR6M6PpnoeQiEiWzNTPo1f0HjVYjDnLZhGx16aBFRkeqiHAzfXP/LgrOWMBMXqiU2pLrXsSOHNUyUm91\n');
    const sample = fs.readFileSync(conf, 'utf8');
    expect(sample).toContain('extension.passwordfile: /etc/socks-server/passwd');
    fs.writeFileSync(copy, sample.replace(/^external: eth0$/m, 'external: lo').replace(/to: eth0/g, 'to: lo')
      .replace('/etc/socks-server/passwd', pw));
    expect(run([bin, '-V', '-f', copy])).toMatchObject({ status: 0 });
    expect(fs.existsSync(path.join(r.prefix, 'share/man/man8/socks-server.8'))).toBe(true);
  });

  test('redsocks-ts alone: both bins run, -t passes on its shipped configs, conf/ is reachable through exports', () => {
    const r = install('redsocks', [path.join(packDir, TGZ.redsocks)]);
    expect([r.status, r.err]).toEqual([0, expect.any(String)]);
    redsocksPrefix = r.prefix;
    const pkg = path.join(r.prefix, 'lib/node_modules/redsocks-ts');
    expect(run([path.join(r.prefix, 'bin/redsocks-ts'), '-v']).out).toMatch(new RegExp(`^redsocks-ts/${VERSION} `));
    expect(run([path.join(r.prefix, 'bin/mptcp-gateway'), '--version']).out).toBe(`mptcp-gateway/${VERSION} (redsocks-ts)\n`);
    for (const c of ['redsocks.conf', 'redsocks-tproxy.conf']) {
      expect([c, run([path.join(r.prefix, 'bin/redsocks-ts'), '-t', '-c', path.join(pkg, 'conf', c)]).status]).toEqual([c, 0]);
    }
    const resolved = run(['node', '-e', `console.log(require.resolve('redsocks-ts/conf/nftables/gateway-redirect.nft', { paths: [${JSON.stringify(path.join(r.prefix, 'lib'))}] }))`]);
    expect(resolved.out.trim()).toBe(path.join(pkg, 'conf/nftables/gateway-redirect.nft'));
    const hidden = run(['node', '-e', `require.resolve('redsocks-ts/dist/cli.js', { paths: [${JSON.stringify(path.join(r.prefix, 'lib'))}] })`]);
    expect(hidden.err).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
    for (const m of ['redsocks-ts.8', 'mptcp-gateway.8']) expect(fs.existsSync(path.join(r.prefix, 'share/man/man8', m))).toBe(true);
  });

  describe('the installed systemd units', () => {
    const units = (): string[] => [
      path.join(socksPrefix, 'lib/node_modules/socks-server/conf/systemd/socks-server.service'),
      path.join(redsocksPrefix, 'lib/node_modules/redsocks-ts/conf/systemd/redsocks-ts.service'),
      path.join(redsocksPrefix, 'lib/node_modules/redsocks-ts/conf/systemd/mptcp-gateway.service'),
    ];

    test('systemd-analyze verify accepts them with the bins where systemd looks (/usr/local/bin)', () => {
      const bins = path.join(tmp, 'bins');
      fs.mkdirSync(bins, { recursive: true });
      for (const b of ['socks-server', 'redsocks-ts', 'mptcp-gateway']) {
        const p = fs.existsSync(path.join(socksPrefix, 'bin', b)) ? socksPrefix : redsocksPrefix;
        fs.symlinkSync(fs.realpathSync(path.join(p, 'bin', b)), path.join(bins, b));
      }
      const script = `mount --bind ${bins} /usr/local/bin && systemd-analyze verify --man=no ${units().join(' ')}`;
      expect(run(['unshare', '-m', 'bash', '-c', script])).toEqual({ status: 0, out: '', err: '' });
      // Without them there, verify names the missing command: the check is real.
      const missing = run(['unshare', '-m', 'bash', '-c', `mount -t tmpfs none /usr/local/bin && systemd-analyze verify --man=no ${units()[0]}`]);
      if (!fs.existsSync(path.join('/usr', 'bin', 'socks-server'))) expect(missing.err).toContain('Command socks-server is not executable');
    });

    test('no directory in ExecStart, the config check first, Conflicts= with Debian\'s units', () => {
      const [socks, redsocks, gw] = units().map((u) => fs.readFileSync(u, 'utf8'));
      expect(socks).toMatch(/^ExecStartPre=socks-server -V -f \/etc\/danted.conf$/m);
      expect(socks).toMatch(/^ExecStart=socks-server -f \/etc\/danted.conf$/m);
      expect(socks).toMatch(/^Conflicts=danted.service$/m);
      expect(redsocks).toMatch(/^ExecStartPre=redsocks-ts -t -c \/etc\/redsocks.conf$/m);
      expect(redsocks).toMatch(/^ExecStart=redsocks-ts -c \/etc\/redsocks.conf$/m);
      expect(redsocks).toMatch(/^Conflicts=redsocks.service$/m);
      expect(gw).toMatch(/^ExecStart=mptcp-gateway setup \$MPTCP_GATEWAY_ARGS$/m);
      for (const u of [socks, redsocks, gw]) expect(u).not.toMatch(/^Exec\w+=\/usr\/(local\/)?bin\//m);
    });

    test('systemd-analyze security: each scores 2.5 or less (the unhardened ones scored 9.1-9.6)', () => {
      const scores: Record<string, number> = {};
      for (const u of units()) {
        const r = run(['systemd-analyze', 'security', '--offline=true', '--no-pager', u]);
        const m = /Overall exposure level for (\S+): (\d+\.\d+)/.exec(r.out);
        scores[m![1]] = Number(m![2]);
      }
      expect(Object.keys(scores).sort()).toEqual(['mptcp-gateway.service', 'redsocks-ts.service', 'socks-server.service']);
      for (const [u, s] of Object.entries(scores)) expect([u, s <= 2.5]).toEqual([u, true]);
    });
  });

  describe('the capabilities the units grant are what the daemons need', () => {
    const freePort = (): Promise<number> => new Promise((res) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => res(p));
      });
    });

    /**
     * Starts ARGV as uid/gid nobody with exactly `caps` (ambient, inheritable and bounding, as
     * AmbientCapabilities= and CapabilityBoundingSet= give them): listening on `port`, or not.
     */
    async function asNobody(caps: string[], argv: string[], port: number): Promise<{ listening: boolean; out: string }> {
      const set = caps.length ? `-all,${caps.map((c) => `+${c}`).join(',')}` : '-all';
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`,
        `--bounding-set=${set}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      const exited = once(child, 'exit');
      const listens = (): boolean => run(['ss', '-Hltn', `sport = :${port}`]).out.trim() !== '';
      const listening = (await waitFor(() => (listens() ? 'listening' : child.exitCode !== null ? 'exited' : undefined), 15000, `${argv[0]} on :${port}`)) === 'listening';
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      return { listening, out };
    }

    const redsocksConf = (redirector: string, port: number): string => {
      const f = path.join(tmp, `redsocks-${redirector}-${port}.conf`);
      fs.writeFileSync(f, `base {\n\tlog = stderr;\n\tredirector = ${redirector};\n}\nredsocks {\n\tlocal_ip = 127.0.0.1;\n\tlocal_port = ${port};\n` +
        '\tip = 127.0.0.1;\n\tport = 1080;\n\ttype = socks5;\n\tpaths = "lo 127.0.0.1 dev lo";\n}\n');
      fs.chmodSync(f, 0o644);
      return f;
    };

    test('redsocks-ts: REDIRECT with dev-bound paths needs none; TPROXY needs CAP_NET_ADMIN (the drop-in) and says so', async () => {
      const bin = path.join(redsocksPrefix, 'bin/redsocks-ts');
      let port = await freePort();
      expect((await asNobody([], [bin, '-c', redsocksConf('iptables', port)], port)).listening).toBe(true);
      port = await freePort();
      const denied = await asNobody([], [bin, '-c', redsocksConf('generic', port)], port);
      expect(denied.listening).toBe(false);
      expect(denied.out).toContain('IP_TRANSPARENT on 127.0.0.1:');
      expect(denied.out).toContain('needs CAP_NET_ADMIN (under systemd: conf/systemd/redsocks-ts.service.d/tproxy.conf');
      const dropIn = fs.readFileSync(path.join(redsocksPrefix, 'lib/node_modules/redsocks-ts/conf/systemd/redsocks-ts.service.d/tproxy.conf'), 'utf8');
      expect(dropIn).toMatch(/^AmbientCapabilities=CAP_NET_ADMIN$/m);
      expect((await asNobody(['net_admin'], [bin, '-c', redsocksConf('generic', port)], port)).listening).toBe(true);
    }, 60000);

    test('socks-server: no capability from port 1024 up; below, exactly CAP_NET_BIND_SERVICE', async () => {
      const bin = path.join(socksPrefix, 'bin/socks-server');
      const conf = (port: number): string => {
        const f = path.join(tmp, `danted-${port}.conf`);
        fs.writeFileSync(f, `logoutput: stderr\ninternal: 127.0.0.1 port = ${port}\nexternal: 127.0.0.1\nsocksmethod: none\n` +
          'client pass { from: 0/0 to: 0/0 }\nsocks pass { from: 0/0 to: 0/0 }\n');
        fs.chmodSync(f, 0o644);
        return f;
      };
      const high = await freePort();
      expect((await asNobody([], [bin, '-f', conf(high)], high)).listening).toBe(true);
      // a free port below 1024 (the kernel's unprivileged-port floor applies: check it is the default)
      expect(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()).toBe('1024');
      const low = [1009, 1013, 1019, 1021].find((p) => !run(['ss', '-Hltn', `sport = :${p}`]).out.trim())!;
      const denied = await asNobody([], [bin, '-f', conf(low)], low);
      expect(denied.listening).toBe(false);
      expect(denied.out).toMatch(/EACCES/);
      expect((await asNobody(['net_bind_service'], [bin, '-f', conf(low)], low)).listening).toBe(true);
    }, 60000);
  });

  test('the logrotate snippets pass logrotate -d as the sysusers files\' users', () => {
    // The users exist only in a private mount namespace: copies of passwd/group with them added.
    const etc = path.join(tmp, 'etc');
    fs.mkdirSync(etc, { recursive: true });
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) if (fs.existsSync(`/etc/${f}`)) fs.copyFileSync(`/etc/${f}`, path.join(etc, f));
    const conf = (p: string, rel: string): string => path.join(p, 'lib/node_modules', rel);
    const sysusers = [conf(redsocksPrefix, 'redsocks-ts/conf/sysusers.d/redsocks-ts.conf'), conf(socksPrefix, 'socks-server/conf/sysusers.d/socks-server.conf')];
    const snippets = [conf(redsocksPrefix, 'redsocks-ts/conf/logrotate.d/redsocks-ts'), conf(socksPrefix, 'socks-server/conf/logrotate.d/socks-server')];
    const script = [
      `mkdir -p ${tmp}/root/etc && cp ${etc}/* ${tmp}/root/etc/`,
      `systemd-sysusers --root=${tmp}/root ${sysusers.join(' ')}`,
      ...['passwd', 'group'].map((f) => `mount --bind ${tmp}/root/etc/${f} /etc/${f}`),
      'getent passwd redsocks-ts socks-server | cut -d: -f1,7',
      ...snippets.map((s) => `logrotate -d -s ${tmp}/logrotate.state ${s} 2>&1 | grep -iE "error|unknown" && exit 1; true`),
    ].join(' && ');
    const r = run(['unshare', '-m', 'bash', '-c', script]);
    expect([r.status, r.out]).toEqual([0, 'redsocks-ts:/usr/sbin/nologin\nsocks-server:/usr/sbin/nologin\n']);
    expect(r.err).toContain("Creating user 'redsocks-ts'");
  });
});

describe('no prebuilt addon and a failing build', () => {
  let noPrebuild: string;
  beforeAll(() => {
    const dir = path.join(tmp, 'native-src');
    fs.mkdirSync(dir);
    run(['tar', '-xzf', path.join(packDir, TGZ.native), '-C', dir, '--strip-components=1']);
    fs.rmSync(path.join(dir, 'prebuilds'), { recursive: true });
    const r = run(['npm', 'pack', '--silent', '--ignore-scripts', '--pack-destination', tmp], { cwd: dir });
    noPrebuild = path.join(tmp, r.out.trim());
  });

  test('the install fails, and says so loudly with the fix', () => {
    // CXX=/bin/false: a compiler that fails, as on a machine without build tools
    const r = install('fail', [noPrebuild], { CXX: '/bin/false' });
    expect(r.status).not.toBe(0);
    expect(r.err).toContain('mptcp-native: NO NATIVE ADDON. Its build failed, and there is no usable prebuilt one:');
    expect(r.err).toContain('prebuilt (linux-x64): none for linux-x64 (prebuilds/linux-x64/mptcp_native.node is not in this package)');
    expect(r.err).toContain('apt-get install python3 make g++ libcrypt-dev');
    expect(r.err).toContain('Or set MPTCP_NATIVE_OPTIONAL=1 to install anyway');
    expect(fs.existsSync(path.join(r.prefix, 'lib/node_modules/mptcp-native'))).toBe(false);
  }, 120000);

  test('MPTCP_NATIVE_OPTIONAL=1 installs it without the addon (which then reports itself not loaded)', () => {
    const r = install('optional', [noPrebuild], { CXX: '/bin/false', MPTCP_NATIVE_OPTIONAL: '1' });
    expect(r.status).toBe(0);
    const dir = path.join(r.prefix, 'lib/node_modules/mptcp-native');
    const st = run(['node', '-e', `console.log(require(${JSON.stringify(dir)}).addonStatus().loaded)`]);
    expect(st.out).toBe('false\n');
  }, 120000);
});

test('the README\'s install section is the one command, and it is an npm script', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /## Installing the CLIs\n([\s\S]*?)\n## /.exec(readme)![1];
  expect(section).toContain('npm run install-global');
  expect(section).not.toMatch(/npm install -g \.\/packages/);
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect(scripts['install-global']).toBe('bash scripts/install-global.sh');
  const script = fs.readFileSync(path.join(ROOT, 'scripts/install-global.sh'), 'utf8');
  expect(script).toMatch(/^case .* bash scripts\/pack\.sh "\$arch" ;;/m);
  expect(script).toMatch(/^npm install -g "\.\/pack\/redsocks-ts-\$version\.tgz" "\.\/pack\/socks-server-\$version\.tgz"$/m);
  expect(scripts.pack).toMatch(/scripts\/pack\.sh/);
});
