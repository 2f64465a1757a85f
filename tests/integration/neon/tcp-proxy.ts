/**
 * A loopback TCP proxy that counts connections: the sidecar talks to PostgreSQL through it, so
 * "pgpulse made zero connections" is counted at the socket, not inferred from statistics.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface CountingProxy {
  port: number;
  connects: number;
  open: number;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  const proxy = { port: 0, connects: 0, open: 0, close: async () => undefined } as CountingProxy;
  const server: Server = createServer((client) => {
    proxy.connects++;
    proxy.open++;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      if (sockets.delete(client)) {
        proxy.open--;
      }
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  proxy.port = typeof addr === 'object' && addr ? addr.port : 0;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) {
        s.destroy();
      }
      server.close(() => resolve());
    });
  return proxy;
}
