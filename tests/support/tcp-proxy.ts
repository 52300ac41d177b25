import type { Socket, TCPSocketListener } from 'bun';

/**
 * A real TCP proxy between a server and PostgreSQL that a test can cut and restore, to stand in
 * for a database that goes away without touching the shared PostgreSQL itself.
 *
 * - `cut('refuse')`: every connection is closed and the port refuses new ones (a stopped server).
 * - `cut('hang')`: every connection is closed; new ones are accepted and never answered (a hung
 *   network, or a server too busy to take a connection).
 * - `restore()`: new connections reach PostgreSQL again.
 */

interface Side {
  socket: Socket<Pair> | null;
  /** Bytes not yet written: the peer is still connecting, or its socket pushed back. */
  pending: Uint8Array[];
}

interface Pair {
  client: Side;
  upstream: Side;
  closed: boolean;
}

export type CutMode = 'refuse' | 'hang';

function send(side: Side, data: Uint8Array): void {
  if (!side.socket || side.pending.length > 0) {
    side.pending.push(data);
    return;
  }
  const written = side.socket.write(data);
  if (written < data.length) side.pending.push(data.subarray(Math.max(written, 0)));
}

function flush(side: Side): void {
  while (side.socket && side.pending.length > 0) {
    const chunk = side.pending[0]!;
    const written = side.socket.write(chunk);
    if (written < chunk.length) {
      side.pending[0] = chunk.subarray(Math.max(written, 0));
      return;
    }
    side.pending.shift();
  }
}

function closePair(pair: Pair): void {
  if (pair.closed) return;
  pair.closed = true;
  pair.client.socket?.end();
  pair.upstream.socket?.end();
}

export async function startTcpProxy(target: { host: string; port: number }) {
  const pairs = new Set<Pair>();
  const held = new Set<Socket<Pair>>();
  let mode: 'open' | CutMode = 'open';
  let listener: TCPSocketListener<Pair> | null = null;
  let port = 0;

  function connectUpstream(pair: Pair): void {
    void Bun.connect<Pair>({
      hostname: target.host,
      port: target.port,
      data: pair,
      socket: {
        open(socket) {
          if (pair.closed) return void socket.end();
          pair.upstream.socket = socket;
          flush(pair.upstream);
        },
        data(_socket, data) {
          send(pair.client, new Uint8Array(data));
        },
        drain() {
          flush(pair.upstream);
        },
        close() {
          closePair(pair);
          pairs.delete(pair);
        },
        error() {
          closePair(pair);
        },
      },
    }).catch(() => {
      closePair(pair);
      pairs.delete(pair);
    });
  }

  function listen(): void {
    listener = Bun.listen<Pair>({
      hostname: '127.0.0.1',
      port,
      socket: {
        open(socket) {
          if (mode === 'hang') {
            // Accepted and never answered; postgres.js waits for the server's first bytes.
            held.add(socket);
            return;
          }
          const pair: Pair = { client: { socket, pending: [] }, upstream: { socket: null, pending: [] }, closed: false };
          socket.data = pair;
          pairs.add(pair);
          connectUpstream(pair);
        },
        data(socket, data) {
          if (socket.data) send(socket.data.upstream, new Uint8Array(data));
        },
        drain(socket) {
          if (socket.data) flush(socket.data.client);
        },
        close(socket) {
          held.delete(socket);
          if (socket.data) {
            closePair(socket.data);
            pairs.delete(socket.data);
          }
        },
        error(socket) {
          if (socket.data) closePair(socket.data);
        },
      },
    });
    port = listener.port;
  }

  listen();

  return {
    get port(): number {
      return port;
    },
    /** Connections passing through now. */
    get connections(): number {
      return pairs.size;
    },
    cut(how: CutMode): void {
      mode = how;
      for (const pair of pairs) closePair(pair);
      if (how === 'refuse' && listener) {
        listener.stop(true);
        listener = null;
      }
    },
    restore(): void {
      for (const socket of held) socket.end();
      held.clear();
      mode = 'open';
      // The same port again, so the server's DATABASE_URL stays right.
      if (!listener) listen();
    },
    stop(): void {
      mode = 'refuse';
      for (const pair of pairs) closePair(pair);
      for (const socket of held) socket.end();
      listener?.stop(true);
      listener = null;
    },
  };
}

export type TcpProxy = Awaited<ReturnType<typeof startTcpProxy>>;
