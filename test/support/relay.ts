import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP relay on a loopback port in front of a real server; `url` once listening. */
export interface TcpRelay {
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A relay standing in for the network between the CLI and a real server (nothing of Assay is
 * replaced): each client connection gets its own upstream connection, errors are swallowed and
 * either side closing closes the other. `wire` decides how bytes flow between the two; it must
 * run while the test's event loop turns, so the CLI through it runs with spawn, not spawnSync.
 */
export function tcpRelay(target: string, wire: (client: Socket, upstream: Socket) => void): TcpRelay {
  const port = Number(new URL(target).port);
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    wire(client, upstream);
  });
  return {
    listen: () => new Promise((resolve) => relay.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`))),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => relay.close(() => resolve()));
    },
  };
}
