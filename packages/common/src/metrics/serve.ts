/**
 * The metrics endpoint both daemons serve (docs/metrics.md): one prom-client Registry per
 * daemon (never prom-client's global one), exposed as OpenMetrics text on `GET /metrics`
 * over plain HTTP. Off unless the config enables it; the config's default address is loopback.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import * as http from 'node:http';
import { Registry, type OpenMetricsContentType } from 'prom-client';

export interface MetricsAddress {
  host: string;
  port: number;
}

export interface MetricsServer {
  readonly host: string;
  /** The bound port (a configured port 0 gets an ephemeral one). */
  readonly port: number;
  close(): Promise<void>;
}

/** A fresh registry that renders the OpenMetrics text format. */
export function newRegistry(): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

/**
 * Listens on `addr` and answers `GET /metrics` (and `/`) with the registry; anything else is
 * 404, a method other than GET/HEAD 405. Rejects with the listen error (EADDRINUSE ...).
 */
export async function serveMetrics(registry: Registry<OpenMetricsContentType>, addr: MetricsAddress,
  onError: (err: Error) => void): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        onError(err);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : addr.port;
  return {
    host: addr.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * What both daemons' metrics share: the registry, the subscriptions to their
 * diagnostics_channel events (dropped at close) and the endpoint.
 */
export class EventMetrics {
  readonly registry = newRegistry();
  private server: MetricsServer | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  /** Subscribes `fn` to the channel `name` until close(). */
  protected on<T>(name: string, fn: (m: T) => void): void {
    const h = (m: unknown): void => fn(m as T);
    diagnosticsChannel.subscribe(name, h);
    this.unsubscribe.push(() => diagnosticsChannel.unsubscribe(name, h));
  }

  async listen(host: string, port: number, onError: (err: Error) => void): Promise<MetricsServer> {
    this.server = await serveMetrics(this.registry, { host, port }, onError);
    return this.server;
  }

  get address(): { host: string; port: number } | undefined {
    return this.server ? { host: this.server.host, port: this.server.port } : undefined;
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.server?.close();
    this.server = undefined;
  }
}
