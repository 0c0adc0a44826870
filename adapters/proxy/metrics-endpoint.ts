import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A `/metrics` HTTP endpoint over Prometheus registries (for the bridge and proxy processes). */
export interface MetricsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

export async function serveMetrics(registries: Registry[], port: number, host = '0.0.0.0'): Promise<MetricsEndpoint> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    Promise.all(registries.map((r) => r.metrics()))
      .then((texts) => {
        res.writeHead(200, { 'content-type': registries[0]?.contentType ?? 'text/plain' });
        res.end(texts.join('\n'));
      })
      .catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
