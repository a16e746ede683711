/**
 * The mptcp-gateway command line: --version, usage and exit 2 without arguments, unknown or
 * repeated options refused (with a "did you mean"), and WAN/LAN interfaces and addresses that
 * this machine lacks named before anything is planned. Runs the real CLI in a namespace of its
 * own, with one WAN interface present and the other missing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Netns, ROOT, destroyAll, tsEntry, veth } from '@mptcp-proxy/lab';
import { missingOnHost, parseWan, defaultSpec, parseLan } from '../../src/gateway/spec';
import { parseArgs } from '../../src/gateway/cli';

const CLI = tsEntry('packages/redsocks-ts/src/gateway/cli.ts');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/redsocks-ts/package.json'), 'utf8')) as { version: string }).version;

function gateway(args: string[], ns?: Netns): { status: number | null; stdout: string; stderr: string } {
  const argv = ns ? ['ip', 'netns', 'exec', ns.name, ...CLI, ...args] : [...CLI, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version prints the package version; no arguments print the usage and exit 2', () => {
  expect(gateway(['--version'])).toEqual({ status: 0, stdout: `mptcp-gateway/${VERSION} (redsocks-ts)\n`, stderr: '' });
  const r = gateway([]);
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^usage:\n {2}mptcp-gateway setup --wan /);
  expect(gateway(['--help']).status).toBe(0);
});

test('unknown, repeated and malformed options are errors (exit 2), never ignored', () => {
  const wan = ['--wan', 'isp1=wan1,192.0.2.10,192.0.2.1'];
  const cases: Array<[string[], string]> = [
    [['setup', ...wan, '--porxy', '1.2.3.4:1080'], 'mptcp-gateway: setup: unknown option --porxy (did you mean --proxy?)'],
    [['doctor', '--proxy', '1.2.3.4:1080'], 'mptcp-gateway: doctor: unknown option --proxy'],
    [['setup', ...wan, '--proxy', '1.2.3.4:1080', '--proxy', '5.6.7.8:1080'], 'mptcp-gateway: setup: --proxy given 2 times'],
    [['setup', ...wan, '--dry-run=yes'], 'mptcp-gateway: setup: --dry-run takes no value'],
    [['setup', ...wan, '--redsocks-port', '12a45'], 'mptcp-gateway: setup: --redsocks-port "12a45" is not a number from 1 to 65535'],
    [['setup', ...wan, 'extra'], 'mptcp-gateway: setup: unexpected argument "extra"'],
    [['setup', ...wan, '--dns-port', '0'], 'mptcp-gateway: setup: --dns-port "0" is not a number from 1 to 65535'],
    [['setup', ...wan, '--udp-port', '70000'], 'mptcp-gateway: setup: --udp-port "70000" is not a number from 1 to 65535'],
    [['setup', ...wan, '--ipv4-only=1'], 'mptcp-gateway: setup: --ipv4-only takes no value'],
    [['setup', ...wan, '--quic', 'maybe'], 'mptcp-gateway: --quic "maybe": expected reject, direct or redudp'],
    [['setup', ...wan, '--quic', 'redudp'], 'mptcp-gateway: --quic redudp needs --udp-port (where redudp listens)'],
    [['setup', ...wan, '--proxy'], 'mptcp-gateway: setup: --proxy needs a value'],
  ];
  for (const [args, msg] of cases) {
    const r = gateway(args);
    expect([args.join(' '), r.status, r.stderr.trim()]).toEqual([args.join(' '), 2, msg]);
  }
  const u = gateway(['frobnicate']);
  expect(u.status).toBe(2);
  expect(u.stderr).toMatch(/^mptcp-gateway: unknown command "frobnicate"\nusage:/);
});

test('parseArgs keeps --wan repeatable and sorts switches from values', () => {
  const a = parseArgs(['setup', '--wan', 'a=x,1.1.1.1,1.1.1.2', '--wan=b=y,2.2.2.2,2.2.2.1', '--tproxy']);
  expect(a.flags.get('wan')).toEqual(['a=x,1.1.1.1,1.1.1.2', 'b=y,2.2.2.2,2.2.2.1']);
  expect([...a.bools]).toEqual(['tproxy']);
});

test('missingOnHost names each absent interface and each address not on its interface', () => {
  const spec = { ...defaultSpec(), wans: [parseWan('isp1=wan1,192.0.2.10,192.0.2.1'), parseWan('isp2=wan2,198.51.100.20,198.51.100.1')], lan: parseLan('lan0') };
  expect(missingOnHost(spec, new Set(['wan1', 'wan2', 'lan0']), new Map([['wan1', ['192.0.2.10']], ['wan2', ['198.51.100.20']]]))).toEqual([]);
  expect(missingOnHost(spec, new Set(['wan1', 'wan2']), new Map([['wan1', ['10.0.0.5', '10.0.0.6']]]))).toEqual([
    '--wan isp1: 192.0.2.10 is not an address of wan1 (it has 10.0.0.5, 10.0.0.6)',
    '--wan isp2: 198.51.100.20 is not an address of wan2 (it has no address)',
    '--lan: interface lan0 does not exist',
  ]);
});

describe('in a namespace with wan1 but no wan2 or lan0', () => {
  let gw: Netns;
  let peer: Netns;
  beforeAll(() => {
    gw = Netns.create('gcli');
    peer = Netns.create('gclp');
    veth(gw, 'wan1', '192.0.2.10/24', peer, 'eth0', '192.0.2.1/24');
  });
  afterAll(() => destroyAll());

  const ARGS = ['setup', '--wan', 'isp1=wan1,192.0.2.10,192.0.2.1', '--wan', 'isp2=wan2,198.51.100.20,198.51.100.1',
    '--lan', 'lan0', '--redsocks-port', '12345', '--proxy', '203.0.113.10:1080', '--dry-run'];

  test('setup (even --dry-run) refuses, naming every missing interface', () => {
    const r = gateway(ARGS, gw);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('mptcp-gateway: setup: not on this machine:\n  --wan isp2: interface wan2 does not exist\n  --lan: interface lan0 does not exist\n');
  });

  test('a WAN address that is not on its interface is named with the ones it has', () => {
    const r = gateway(['setup', '--wan', 'isp1=wan1,192.0.2.99,192.0.2.1', '--dry-run'], gw);
    expect([r.status, r.stderr]).toEqual([2, 'mptcp-gateway: setup: not on this machine:\n  --wan isp1: 192.0.2.99 is not an address of wan1 (it has 192.0.2.10)\n']);
  });

  test('with everything present, --dry-run prints the plan; --undo does not need the interfaces', () => {
    const ok = gateway(['setup', '--wan', 'isp1=wan1,192.0.2.10,192.0.2.1', '--dry-run'], gw);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('ip mptcp endpoint add 192.0.2.10 dev wan1 subflow');
    const undo = gateway([...ARGS, '--undo', '--state', '/nonexistent/mptcp-gateway-state.json'], gw);
    expect([undo.status, undo.stderr]).toEqual([0, '']);
  });
});
