/**
 * A quick probe, not a test: with N watchers (default 1,000) on one event and FANOUT_COALESCE_MS=0,
 * the time from each booking's HTTP response to the last watcher's receipt of that booking's
 * version, over M sequential bookings (default 50). Prints p50/p99/max.
 *
 *   ulimit -n 20000 && bun bench/ws-latency-probe.ts [--n 1000] [--m 50] [--workers 1]
 *
 * The server runs in its own process (src/index.ts), so the watchers' work does not share its
 * event loop: on in-memory PGlite, or on a fresh database created for the run when DATABASE_URL
 * is a postgres:// URL. A negative figure means the last watcher had the message before the
 * booker had its HTTP response.
 */
import { parseArgs } from 'node:util';
import { createEvent, loginDemoUser } from './api';
import { createBenchDatabase, type BenchDatabase } from './database';
import { percentile, round } from './stats';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '1000' }, m: { type: 'string', default: '50' }, workers: { type: 'string', default: '1' } },
});
const watcherCount = Number(values.n);
const bookingCount = Number(values.m);

// The database is dropped however the probe ends (in-memory PGlite has nothing to drop).
const database = await createBenchDatabase('ws_latency_probe');
try {
  await probe(database);
} finally {
  await database.drop();
}

async function probe(database: BenchDatabase): Promise<void> {
  const serverProcess = Bun.spawn(['bun', 'src/index.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      SEED_DEMO: 'true',
      FANOUT_COALESCE_MS: '0',
      LOG_LEVEL: 'info',
      // WORKERS>1 needs PostgreSQL; the workers share the port and the kernel spreads the watchers.
      WORKERS: values.workers,
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });

  /** The port from the server's "listening" log line; its stdout is drained for as long as it runs (a closed pipe would kill it). */
  function serverPort(): Promise<number> {
    return new Promise((resolve, reject) => {
      const decoder = new TextDecoder();
      let buffered = '';
      let found = false;
      void (async () => {
        for await (const chunk of serverProcess.stdout) {
          if (found) continue;
          buffered += decoder.decode(chunk);
          const match = /"port":(\d+)/.exec(buffered.split('\n').find((line) => line.includes('listening')) ?? '');
          if (match) {
            found = true;
            resolve(Number(match[1]));
          }
        }
        if (!found) reject(new Error('server exited before listening'));
      })();
    });
  }

  const port = await serverPort();
  const base = `http://127.0.0.1:${port}`;
  try {
    const token = await loginDemoUser(base);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const event = await createEvent(base, token, 100_000, 'Latency probe');

    // Per version: how many watchers have it, and when the last of them got it.
    const receipts = new Map<number, { count: number; lastAt: number }>();
    let subscribed = 0;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < watcherCount; i++) {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/events/${event.id}?token=${token}`);
      socket.onmessage = (message) => {
        const at = performance.now();
        const data = JSON.parse(String(message.data)) as { type: string; version?: number };
        if (data.type === 'subscribed') subscribed += 1;
        else if (data.type === 'booking_created' && data.version !== undefined) {
          const entry = receipts.get(data.version) ?? { count: 0, lastAt: 0 };
          entry.count += 1;
          entry.lastAt = Math.max(entry.lastAt, at);
          receipts.set(data.version, entry);
        }
      };
      sockets.push(socket);
      // Pace the upgrades a little so the listen backlog never overflows.
      if (i % 100 === 99) await Bun.sleep(20);
    }
    const connectDeadline = Date.now() + 60_000;
    while (subscribed < watcherCount) {
      if (Date.now() > connectDeadline) throw new Error(`only ${subscribed}/${watcherCount} watchers subscribed`);
      await Bun.sleep(10);
    }

    const fromResponseMs: number[] = [];
    const fromRequestMs: number[] = [];
    for (let i = 0; i < bookingCount; i++) {
      const sentAt = performance.now();
      const response = await fetch(`${base}/api/bookings`, { method: 'POST', headers: auth, body: JSON.stringify({ eventId: event.id }) });
      const respondedAt = performance.now();
      if (response.status !== 201) throw new Error(`booking failed: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
      // This probe books alone, so the event's version after booking i+1 is i+2.
      const version = i + 2;
      const deadline = Date.now() + 30_000;
      while ((receipts.get(version)?.count ?? 0) < watcherCount) {
        if (Date.now() > deadline) throw new Error(`version ${version}: ${receipts.get(version)?.count ?? 0}/${watcherCount} watchers`);
        await Bun.sleep(0);
      }
      const lastAt = receipts.get(version)!.lastAt;
      fromResponseMs.push(lastAt - respondedAt);
      fromRequestMs.push(lastAt - sentAt);
    }

    const summary = (samples: number[]) => ({ p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)), max: round(Math.max(...samples)) });
    console.log(
      JSON.stringify({
        watchers: watcherCount,
        bookings: bookingCount,
        database: database.kind,
        responseToLastWatcherMs: summary(fromResponseMs),
        requestToLastWatcherMs: summary(fromRequestMs),
      }),
    );
    for (const socket of sockets) socket.close();
  } finally {
    serverProcess.kill('SIGTERM');
    await serverProcess.exited;
  }
}
