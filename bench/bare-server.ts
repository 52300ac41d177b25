/**
 * The yardstick for `fanout` and `connections`: bare `Bun.serve` with Bun's defaults, every
 * socket subscribed to one topic, and `POST /publish` sending one seat message through `server.publish` —
 * the least any server on this stack can do per message.
 */
import { emitLine, residentMB, serveCommands } from './child-protocol';
import { countPublishTurns } from './publish-turns';

const TOPIC = 'event:1';
let openSockets = 0;
let version = 0;

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(request, bunServer) {
    const url = new URL(request.url);
    if (url.pathname === '/ws') {
      if (bunServer.upgrade(request, { data: undefined })) return undefined;
      return new Response('upgrade failed', { status: 400 });
    }
    if (url.pathname === '/publish' && request.method === 'POST') {
      // Versions are stamped here, in publish order, as a database would order commits.
      const { eventId, capacity } = (await request.json()) as { eventId: number; capacity: number };
      version += 1;
      bunServer.publish(TOPIC, JSON.stringify({ type: 'booking_created', eventId, availableSeats: capacity - version, capacity, version }));
      return new Response(String(version));
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    open(ws) {
      openSockets += 1;
      ws.subscribe(TOPIC);
      // The same snapshot shape Seatwatch sends, so one watcher client serves both servers.
      ws.send('{"type":"subscribed","eventId":1,"availableSeats":0,"capacity":0,"version":0}');
    },
    message() {},
    close() {
      openSockets -= 1;
    },
  },
});

const publishTurns = countPublishTurns(server);

emitLine({ ready: true, port: server.port });

await serveCommands(
  {
    rss: (args: { gc?: boolean } = {}) => ({ rssMB: residentMB(args.gc) }),
    cpu: () => process.cpuUsage(),
    'publish-turns': publishTurns,
    connections: () => ({ connections: openSockets }),
  },
  async () => {
    await server.stop(true);
    process.exit(0);
  },
);
