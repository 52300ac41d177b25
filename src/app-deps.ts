import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import type { Logger } from './lib/logger';
import type { Metrics } from './lib/metrics';
import type { Tokens } from './lib/tokens';
import type { HoldSweeper } from './services/hold-expiry';
import type { SeatFeed } from './services/seat-feed';
import type { WebSocketManager } from './services/websocket';

/** What the app is built from; server.ts makes them, tests build them on a fresh database. */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  tokens: Tokens;
  seatFeed: SeatFeed;
  /** Releases due holds; a refused booking or hold asks it to free an event's expired ones first. */
  holdSweeper: HoldSweeper;
  websocket: WebSocketManager;
  metrics: Metrics;
  logger: Logger;
  /** Default WS_LIMITS.idleTimeoutSeconds. */
  websocketIdleTimeoutSeconds?: number;
}
