import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Health of a service as `/healthz` reports it. */
export interface Health {
  ok: boolean;
  /** One word per part (e.g. `running`, `rebuilding`, `closed`). */
  detail: Record<string, string>;
}

export interface OpsServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  registry: Registry;
  health: () => Health;
  /** JSON served at `/status` (counters, assignment); none when absent. */
  status?: () => unknown;
}

/** The operations endpoint of a service: `/metrics` (Prometheus), `/healthz` (200 or 503), `/status` (JSON). */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { registry } = options;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      json(res, health.ok ? 200 : 503, health);
      return;
    }
    if (path === '/status' && options.status !== undefined) {
      json(res, 200, options.status());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
