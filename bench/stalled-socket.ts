/**
 * A WebSocket client that completes the handshake, reads the greeting and snapshot, and then
 * never reads again: the slowest possible consumer. Raw TCP, so nothing in a client library can
 * read on its behalf.
 */
export interface StalledSocket {
  /** Whether the server closed or reset the connection (seen once reading resumes). */
  closedByServer(): boolean;
  resumeAndClose(): void;
}

export async function openStalledSocket(host: string, port: number, path: string, timeoutMs = 10_000): Promise<StalledSocket> {
  let received = '';
  let closed = false;
  let stalled: (() => void) | null = null;
  const greeted = new Promise<void>((resolve, reject) => {
    stalled = resolve;
    setTimeout(() => reject(new Error(`stalled client: no snapshot within ${timeoutMs} ms (got ${JSON.stringify(received.slice(0, 300))})`)), timeoutMs);
  });
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  const socket = await Bun.connect({
    hostname: host,
    port,
    socket: {
      open(socket) {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      },
      data(socket, data) {
        received += data.toString('latin1');
        if (received.includes('"subscribed"') && stalled) {
          stalled();
          stalled = null;
          // From here on nothing is read: the kernel buffers fill, then the server's.
          socket.pause();
        }
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  await greeted;
  return {
    closedByServer: () => closed,
    resumeAndClose() {
      socket.resume();
      socket.end();
    },
  };
}
