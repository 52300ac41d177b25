import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import type { Logger } from './lib/logger';
import type { Metrics } from './lib/metrics';
import type { Tokens } from './lib/tokens';
import type { SeatFeed } from './services/seat-feed';
import type { WebSocketManager } from './services/websocket';

/** What the app is built from; server.ts makes them, tests build them on a fresh database. */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  tokens: Tokens;
  seatFeed: SeatFeed;
  websocket: WebSocketManager;
  metrics: Metrics;
  logger: Logger;
  /** Default WS_LIMITS.idleTimeoutSeconds. */
  websocketIdleTimeoutSeconds?: number;
}
