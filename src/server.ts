import { createApp, type App } from './app';
import type { Config } from './config';
import { openDatabase, type DatabaseHandle } from './db/client';
import { seedDemoData } from './db/seed';
import { createLogger, type Logger } from './lib/logger';
import { createMetrics } from './lib/metrics';
import { isAddressInUse, PortInUseError } from './lib/port';
import { createTokens } from './lib/tokens';
import { websocketHandlers } from './routes/websocket';
import { getViewableSeatStates } from './services/event';
import type { SeatFeed } from './services/seat-feed';
import { createSeatFeed } from './services/seat-feed-transport';
import { startHoldSweeper } from './services/hold-expiry';
import { startQueueTicker } from './services/queue-ticker';
import { createKnownUsers, tokensOfExistingUsers } from './services/known-users';
import { createBatchedSeatStateLoader } from './services/seat-state-reads';
import { createWebSocketManager, type WebSocketManager } from './services/websocket';

export interface RunningServer {
  app: App;
  database: DatabaseHandle;
  websocket: WebSocketManager;
  /** Where committed seat changes arrive (the WebSocket manager subscribes; others may too). */
  seatFeed: SeatFeed;
  port: number;
  url: string;
  /** Close sockets (1001), finish in-flight requests, close the database. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Use this database instead of opening one from config (tests share one per file). */
  database?: DatabaseHandle;
  /**
   * Set under WORKERS>1: every response names the worker that served it in `x-seatwatch-worker`,
   * and the port is shared with the other workers (SO_REUSEPORT).
   */
  workerId?: number;
  /** Seconds a WebSocket may stay silent (pings unanswered) before it is closed; tests shorten it. */
  websocketIdleTimeoutSeconds?: number;
}

/** Assembles one server process: database → seat feed → WebSocket manager → app → listen. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const ownsDatabase = !options.database;
  const database = options.database ?? (await openDatabase(config.databaseUrl, { logger }));
  if (config.seedDemo && (await seedDemoData(database.db, () => logger.info('loading demo data')))) {
    logger.info('demo data loaded', { users: ['test@example.com', 'alice@example.com'] });
  }

  const metrics = createMetrics();
  const websocket = createWebSocketManager({
    loadSeatState: createBatchedSeatStateLoader((eventIds) => getViewableSeatStates(database.db, eventIds)),
    // The very check of the upgrade (below: it needs the known users, which need this manager).
    verifyToken: (token) => tokens.verify(token),
    coalesceMs: config.fanoutCoalesceMs,
    logger,
    metrics: { messagesSent: (count) => metrics.wsMessagesSent.inc({}, count) },
  });
  metrics.addGauge({ name: 'seatwatch_ws_connections', help: 'Open WebSocket connections', read: () => websocket.clients.size });
  metrics.addGauge({ name: 'seatwatch_ws_subscriptions', help: 'Event subscriptions across connections', read: () => websocket.stats().subscriptions });

  const seatFeed = await createSeatFeed(database, {
    logger,
    // A window may skip intermediate versions, so this process's own changes need not wait for
    // their notification: one that just misses a window's message waited a whole fan-out for it.
    deliverOwnCommitsAtOnce: config.fanoutCoalesceMs > 0,
    // After a feed outage, re-read what local watchers hold and who may see it; publish anything newer.
    onReconnect: async () => websocket.catchUp(await getViewableSeatStates(database.db, websocket.watchedEventIds())),
  });
  const stopFeed = seatFeed.subscribe(websocket.handleSeatChange);
  const holdSweeper = startHoldSweeper({
    db: database.db,
    seatFeed,
    warningSeconds: config.holdWarningSeconds,
    logger,
    onExpired: (count) => metrics.holds.inc({ result: 'expired' }, count),
  });
  const queueTicker = startQueueTicker({
    db: database.db,
    logger,
    onProgress: websocket.handleQueueProgress,
    onAdmitted: (count) => metrics.queueAdmitted.inc({}, count),
  });

  const knownUsers = await createKnownUsers(database, {
    logger,
    connectedUserIds: websocket.connectedUserIds,
    onDeleted: websocket.disconnectUsers,
  });
  const tokens = tokensOfExistingUsers(createTokens(config.jwtSecret, config.jwtExpiresInSeconds), knownUsers);
  const app = createApp({ config, database, tokens, seatFeed, holdSweeper, websocket, metrics, logger, websocketIdleTimeoutSeconds: options.websocketIdleTimeoutSeconds });
  if (options.workerId !== undefined) {
    const workerId = String(options.workerId);
    app.onRequest(({ set }) => {
      set.headers['x-seatwatch-worker'] = workerId;
    });
  }
  try {
    // Elysia shares the port by default (SO_REUSEPORT): a second server would then silently take
    // half of this one's connections. Only a supervisor's workers share it, among themselves.
    app.listen({ port: config.port, hostname: config.host, reusePort: options.workerId !== undefined, websocket: websocketHandlers(websocket, knownUsers) });
  } catch (error) {
    websocket.stop();
    await Promise.all([holdSweeper.stop(), queueTicker.stop()]);
    stopFeed();
    await seatFeed.close();
    if (ownsDatabase) await database.close();
    throw isAddressInUse(error) ? new PortInUseError(config.port) : error;
  }
  const server = app.server!;
  const port = server.port!;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;

  let stopping: Promise<void> | null = null;
  return {
    app,
    database,
    websocket,
    seatFeed,
    port,
    url,
    stop() {
      stopping ??= (async () => {
        websocket.closeAll();
        websocket.stop();
        await server.stop(false);
        await Promise.all([holdSweeper.stop(), queueTicker.stop()]);
        stopFeed();
        await Promise.all([seatFeed.close(), knownUsers.stop()]);
        if (ownsDatabase) await database.close();
      })();
      return stopping;
    },
  };
}
