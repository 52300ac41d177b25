import type { DatabaseHandle } from '../db/client';
import type { Logger } from '../lib/logger';
import { createInProcessSeatFeed, type SeatFeed } from './seat-feed';

export interface SeatFeedOptions {
  logger: Logger;
  /** Called after the feed reconnects following an outage, to catch up on missed changes. */
  onReconnect: () => Promise<void>;
}

/** Chooses how seat changes travel: in memory on PGlite (one process). */
export async function createSeatFeed(_database: DatabaseHandle, _options: SeatFeedOptions): Promise<SeatFeed> {
  return createInProcessSeatFeed();
}
