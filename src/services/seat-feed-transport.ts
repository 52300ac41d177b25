import type { DatabaseHandle } from '../db/client';
import { createInProcessSeatFeed, type SeatFeed } from './seat-feed';
import { createPostgresSeatFeed, type PostgresSeatFeedOptions } from './seat-feed-postgres';

export type SeatFeedOptions = PostgresSeatFeedOptions;

/**
 * Chooses how seat changes travel: through PostgreSQL LISTEN/NOTIFY when the database is a
 * real PostgreSQL (any number of processes may share it), in memory on PGlite (one process).
 */
export async function createSeatFeed(database: DatabaseHandle, options: SeatFeedOptions): Promise<SeatFeed> {
  if (database.kind === 'postgres') return createPostgresSeatFeed(database, options);
  return createInProcessSeatFeed(options);
}
