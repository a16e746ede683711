/**
 * One running `dnstc {}` section: redsocks 0.5's dnstc.c. Every UDP query is sent back as
 * itself with QR and TC set (message.ts dnstcReply), so the client asks again over TCP, which
 * the gateway then REDIRECTs into a `redsocks {}` instance like any other TCP connection. No
 * query leaves the gateway over UDP. The log lines are redsocks' own.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { DnstcSection } from '../config/types';
import type { RedsocksLog } from '../log/redsocks-log';
import { dnstcReply } from './message';

const WHERE = 'dnstc.c:0 dnstc_pkt_from_client(...)';

export class Dnstc {
  private udp: dgram.Socket | undefined;

  constructor(readonly cfg: DnstcSection, private readonly log: RedsocksLog) {}

  get key(): string {
    return `${this.cfg.localIp}:${this.cfg.localPort}`;
  }

  get port(): number {
    return this.udp?.address().port ?? 0;
  }

  async listen(): Promise<void> {
    const udp = dgram.createSocket({ type: net.isIPv6(this.cfg.localIp) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: this.cfg.localIp, port: this.cfg.localPort }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.log.warning(`dnstc: ${err.message}`, WHERE));
    udp.on('message', (msg, rinfo) => this.onQuery(msg, rinfo));
    this.udp = udp;
  }

  private onQuery(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // redsocks' prefix: [client->bindaddr]
    const prefix = `[${rinfo.address}:${rinfo.port}->${this.cfg.localIp}:${this.port}]: `;
    const { reply, verdict } = dnstcReply(msg);
    if (verdict === 'incomplete') {
      this.log.info(`${prefix}incomplete DNS request`, WHERE);
      return;
    }
    if (verdict === 'malformed' || !reply) {
      this.log.info(`${prefix}malformed DNS request`, WHERE);
      return;
    }
    this.udp?.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err) this.log.warning(`${prefix}sendto: ${err.message}`, WHERE);
      else this.log.info(`${prefix}sent truncated DNS reply`, WHERE);
    });
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
  }
}
