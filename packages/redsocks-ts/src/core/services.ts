/**
 * The sections that are not `redsocks {}`: `redudp {}` (redudp/), `dnstc {}` and the
 * extension `dns {}` (dns/). Each runs as one Service. A reload keeps the services whose
 * section did not change and restarts the others: a UDP port cannot be bound twice, so the
 * old one closes first; if the new one cannot bind, the old one is started again and the
 * reload fails.
 */
import type { RedsocksConfig } from '../config/types';
import { DnsForwarder } from '../dns/forwarder';
import { Dnstc } from '../dns/dnstc';
import type { RedsocksLog } from '../log/redsocks-log';
import { Redudp } from '../redudp/redudp';

export type ServiceKind = 'redudp' | 'dnstc' | 'dns';

export interface Service {
  readonly kind: ServiceKind;
  /** local_ip:local_port as configured. */
  readonly key: string;
  /** The parsed section, compared on reload. */
  readonly cfg: { line: number };
  /** The bound port (local_port = 0 gets an ephemeral one). */
  readonly port: number;
  /** A new, not yet listening copy of this service (to bring it back after a failed reload). */
  remake(): Service;
  listen(): Promise<void>;
  close(): Promise<void>;
}

function make(config: RedsocksConfig, log: RedsocksLog): Service[] {
  const base = config.base;
  const out: Service[] = [];
  const add = (kind: ServiceKind, build: () => Omit<Service, 'kind' | 'remake'>): void => {
    const wrap = (): Service => Object.assign(build(), { kind, remake: wrap }) as Service;
    out.push(wrap());
  };
  for (const cfg of config.redudp) add('redudp', () => new Redudp(cfg, base, log));
  for (const cfg of config.dnstc) add('dnstc', () => new Dnstc(cfg, log));
  for (const cfg of config.dns) add('dns', () => new DnsForwarder(cfg, base, log));
  return out;
}

/** Starts every service of `config`; on a failure the ones already started are closed. */
export async function startServices(config: RedsocksConfig, log: RedsocksLog): Promise<Service[]> {
  const started: Service[] = [];
  try {
    for (const svc of make(config, log)) {
      await svc.listen();
      started.push(svc);
    }
  } catch (err) {
    for (const svc of started) await svc.close();
    throw err;
  }
  return started;
}

/** The same section: every parsed value but its line number. */
function same(a: Service, b: Service): boolean {
  return a.kind === b.kind && JSON.stringify({ ...a.cfg, line: 0 }) === JSON.stringify({ ...b.cfg, line: 0 });
}

/**
 * The services of `config`, reusing the running ones that did not change. On failure
 * `error` is set and `services` is what runs then: the old set, restarted where needed.
 */
export async function reloadServices(
  running: readonly Service[], config: RedsocksConfig, log: RedsocksLog,
): Promise<{ services: Service[]; error?: unknown }> {
  const left = [...running];
  const next: Service[] = [];
  const replaced: Service[] = [];
  try {
    for (const want of make(config, log)) {
      const kept = left.findIndex((s) => same(s, want));
      if (kept >= 0) {
        next.push(left.splice(kept, 1)[0]!);
        continue;
      }
      const oldIdx = left.findIndex((s) => s.kind === want.kind && s.key === want.key);
      if (oldIdx >= 0) {
        const old = left.splice(oldIdx, 1)[0]!;
        replaced.push(old);
        await old.close();
      }
      await want.listen();
      next.push(want);
    }
  } catch (err) {
    for (const svc of next) if (!running.includes(svc)) await svc.close();
    // the replaced ones come back as they were (their ports are free again)
    const back: Service[] = [];
    for (const svc of running) {
      if (!replaced.includes(svc)) {
        back.push(svc);
        continue;
      }
      const again = svc.remake();
      try {
        await again.listen();
        back.push(again);
      } catch (e) {
        log.error(`reload: could not restart ${svc.kind} at ${svc.key}: ${(e as Error).message}`);
      }
    }
    return { services: back, error: err };
  }
  for (const svc of left) await svc.close();
  return { services: next };
}
