import { ConfigError } from '@mptcp-proxy/common';
import { parseDantedConfig, type PortSpec } from '../../src/config';
import { parsePort, portMatches } from '../../src/config/values';
import { HostLookups } from '../../src/config/system-lookup';

const HEAD = 'logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n';

function toPort(spec: string): PortSpec | undefined {
  const { config } = parseDantedConfig(`${HEAD}socks pass { from: 0/0 to: 0/0 ${spec} }\n`, 'ports.conf');
  return config.socksRules[0].to.port;
}

function parseError(text: string): ConfigError {
  try {
    parseDantedConfig(text, 'ports.conf');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('port operators', () => {
  const cases: Array<[string, PortSpec, number[], number[]]> = [
    ['port = 80', { op: 'eq', port: 80 }, [80], [79, 81]],
    ['port eq 80', { op: 'eq', port: 80 }, [80], [8080]],
    ['port != 80', { op: 'ne', port: 80 }, [79, 81], [80]],
    ['port ne 80', { op: 'ne', port: 80 }, [1], [80]],
    ['port >= 1024', { op: 'ge', port: 1024 }, [1024, 65535], [1023]],
    ['port ge 1024', { op: 'ge', port: 1024 }, [1024], [1]],
    ['port <= 1023', { op: 'le', port: 1023 }, [1023, 1], [1024]],
    ['port le 1023', { op: 'le', port: 1023 }, [0], [1024]],
    ['port > 1023', { op: 'gt', port: 1023 }, [1024], [1023]],
    ['port gt 1023', { op: 'gt', port: 1023 }, [2000], [1023]],
    ['port < 1024', { op: 'lt', port: 1024 }, [1023], [1024]],
    ['port lt 1024', { op: 'lt', port: 1024 }, [22], [1024]],
    ['port 1-1023', { op: 'range', port: 1, portEnd: 1023 }, [1, 1023], [0, 1024]],
    ['port 1 - 65535', { op: 'range', port: 1, portEnd: 65535 }, [1, 65535], [0]],
    ['port = http', { op: 'eq', port: 80 }, [80], [443]],
    ['port = https', { op: 'eq', port: 443 }, [443], [80]],
    ['port = 0x50', { op: 'eq', port: 80 }, [80], [50]],
    ['port = 010', { op: 'eq', port: 8 }, [8], [10]],
  ];
  it.each(cases)('%s parses and matches', (text, spec, yes, no) => {
    expect(toPort(text)).toEqual(spec);
    for (const p of yes) expect(portMatches(spec, p)).toBe(true);
    for (const p of no) expect(portMatches(spec, p)).toBe(false);
  });

  it('no port spec matches every port', () => {
    expect(toPort('')).toBeUndefined();
    expect(portMatches(undefined, 0)).toBe(true);
    expect(portMatches(undefined, 65535)).toBe(true);
  });

  it.each([
    ['port 80', '80', 'syntax error'],
    ['port == 80', '==', 'syntax error'],
    ['port neq 80', 'neq', 'syntax error'],
    ['port = 70000', '70000', 'number 70000 is too large.  Maximum is 65535'],
    ['port = nosuchservice', 'nosuchservice', 'unknown tcp/udp protocol'],
    ['port 100-50', '100-50', 'end port (100) can not be less than start port (50)'],
    ['port = 08', '08', 'confusing.  Thought we would have a number here'],
  ])('rejects %s with Dante\'s complaint', (text, token, detail) => {
    const e = parseError(`${HEAD}socks pass { from: 0/0 to: 0/0 ${text} }\n`);
    expect(e.line).toBe(5);
    expect(e.token).toBe(token);
    expect(e.detail).toBe(detail);
    expect(e.message).toContain('ports.conf:5:');
  });

  it('looks service names up in /etc/services', () => {
    const host = new HostLookups();
    const services = (n: string): number | undefined => host.servicePort(n);
    expect(parsePort('ssh', services)).toEqual({ ok: true, value: 22 });
    expect(parsePort('domain', services)).toEqual({ ok: true, value: 53 });
    expect(parsePort('65535', services)).toEqual({ ok: true, value: 65535 });
    expect(parsePort('-1', services)).toEqual({ ok: false, detail: 'syntax error' });
  });
});
