import type { DatabaseHandle } from '../db/client';
import type { Logger } from '../lib/logger';
import { createInProcessSeatFeed, type SeatFeed } from './seat-feed';
import { createPostgresSeatFeed } from './seat-feed-postgres';

export interface SeatFeedOptions {
  logger: Logger;
  /** Called after the feed reconnects following an outage, to catch up on missed changes. */
  onReconnect: () => Promise<void>;
}

/**
 * Chooses how seat changes travel: through PostgreSQL LISTEN/NOTIFY when the database is a
 * real PostgreSQL (any number of processes may share it), in memory on PGlite (one process).
 */
export async function createSeatFeed(database: DatabaseHandle, options: SeatFeedOptions): Promise<SeatFeed> {
  if (database.kind === 'postgres') return createPostgresSeatFeed(database, options);
  return createInProcessSeatFeed();
}
