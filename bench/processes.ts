import { startChild, type BenchChild } from './child';

/** Starting the bench's child processes: a Seatwatch server, the bare yardstick, watchers, the users of a line. */

export interface ServerChild extends BenchChild {
  port: number;
  baseUrl: string;
  wsBase: string;
  /** The WebSocket connections the server counts as open. */
  connections(): Promise<number>;
}

export interface ServerSettings {
  databaseUrl: string;
  coalesceMs?: number;
  /** HOLD_TTL_SECONDS and HOLD_WARNING_SECONDS (the server's defaults when unset). */
  holdTtlSeconds?: number;
  holdWarningSeconds?: number;
}

export async function startSeatwatchServer(settings: ServerSettings): Promise<ServerChild> {
  const child = startChild('seatwatch-server', './server-process.ts', {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: settings.databaseUrl,
    SEED_DEMO: 'true',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    FANOUT_COALESCE_MS: String(settings.coalesceMs ?? 50),
    WORKERS: '1',
    ...(settings.holdTtlSeconds !== undefined && { HOLD_TTL_SECONDS: String(settings.holdTtlSeconds) }),
    ...(settings.holdWarningSeconds !== undefined && { HOLD_WARNING_SECONDS: String(settings.holdWarningSeconds) }),
  });
  return withPort(child, await child.ready);
}

/** The yardstick of selloff and onsale (bare-sale-server.ts): bare Bun.serve + the booking statement on the bare driver. */
export async function startBareSaleServer(settings: ServerSettings): Promise<ServerChild> {
  const child = startChild('bare-sale-server', './bare-sale-server.ts', {
    DATABASE_URL: settings.databaseUrl,
    FANOUT_COALESCE_MS: String(settings.coalesceMs ?? 50),
  });
  return withPort(child, await child.ready);
}

export async function startBareServer(): Promise<ServerChild> {
  const child = startChild('bare-server', './bare-server.ts');
  return withPort(child, await child.ready);
}

function withPort(child: BenchChild, ready: Record<string, any>): ServerChild {
  const port = Number(ready.port);
  return Object.assign(child, {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    wsBase: `ws://127.0.0.1:${port}`,
    connections: async () => (await child.request<{ connections: number }>('connections')).connections,
  });
}

/** Under a 20,000 open-file limit one Bun process holds ~19,000 sockets; two share a big N and the CPU. */
const SOCKETS_PER_PROCESS_BEFORE_SPLIT = 4000;

export interface WatcherGroup {
  children: BenchChild[];
  /** Opens n sockets to url spread over the children (as a named group); throws if any failed. */
  connect(url: string, n: number, group?: string): Promise<{ ms: number }>;
  request<T>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T[]>;
  closeAll(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWatchers(n: number): Promise<WatcherGroup> {
  const processes = n > SOCKETS_PER_PROCESS_BEFORE_SPLIT ? 2 : 1;
  const children = Array.from({ length: processes }, (_, index) => startChild(`watchers-${index + 1}`, './watcher-process.ts'));
  await Promise.all(children.map((child) => child.ready));
  const request = <T>(cmd: string, args?: unknown, timeoutMs?: number) => Promise.all(children.map((child) => child.request<T>(cmd, args, timeoutMs)));
  return {
    children,
    request,
    async connect(url, total, group) {
      const shares = children.map((_, index) => Math.floor(total / children.length) + (index < total % children.length ? 1 : 0));
      const results = await Promise.all(
        children.map((child, index) =>
          child.request<{ connected: number; failed: number; firstError: string; ms: number }>('connect', { url, count: shares[index], group, concurrency: 100 }, 300_000),
        ),
      );
      const failed = results.reduce((sum, result) => sum + result.failed, 0);
      if (failed > 0) throw new Error(`${failed} of ${total} watchers failed to connect: ${results.find((result) => result.firstError)?.firstError}`);
      return { ms: Math.max(...results.map((result) => result.ms)) };
    },
    async closeAll() {
      await request('close-all', {}, 30_000);
    },
    async stop() {
      await Promise.all(children.map((child) => child.stop()));
    },
  };
}

/** onsale: the users of a waiting line (line-users-process.ts), split over processes as the watchers are. */
export async function startLineUsers(n: number): Promise<BenchChild[]> {
  const processes = n > SOCKETS_PER_PROCESS_BEFORE_SPLIT ? 2 : 1;
  const children = Array.from({ length: processes }, (_, index) => startChild(`line-users-${index + 1}`, './line-users-process.ts'));
  await Promise.all(children.map((child) => child.ready));
  return children;
}
