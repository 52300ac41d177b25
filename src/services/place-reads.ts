import type { PublicQueueEntry } from './queue';

/**
 * Place reads, batched: the places asked for while a read is under way are read together in the
 * next one, one statement per event for all its askers.
 *
 * Why: after the lottery every user in line asks for its place at once. One statement each cost
 * PGlite ~0.5 ms of its thread and the server ~0.7 ms of CPU a place, which delayed the line's
 * messages while 10,000 users asked (docs/decisions.md).
 *
 * A read joins a batch only before its statement starts, so what it gets was read after it
 * asked, as with a statement of its own. The first read after a quiet spell goes at once: unlike
 * a timer's turn, nothing here waits on an event loop busy with the sale.
 */
export function createBatchedPlaceReader(
  readPlaces: (eventId: number, userIds: number[]) => Promise<Map<number, PublicQueueEntry>>,
): (eventId: number, userId: number) => Promise<PublicQueueEntry | null> {
  interface Waiting {
    eventId: number;
    userId: number;
    resolve: (place: PublicQueueEntry | null) => void;
    reject: (error: unknown) => void;
  }
  let waiting: Waiting[] = [];
  let reading = false;

  async function answer(reads: Waiting[]): Promise<void> {
    const byEvent = Map.groupBy(reads, (read) => read.eventId);
    await Promise.all(
      [...byEvent].map(async ([eventId, ofEvent]) => {
        try {
          const places = await readPlaces(eventId, [...new Set(ofEvent.map((read) => read.userId))]);
          for (const read of ofEvent) read.resolve(places.get(read.userId) ?? null);
        } catch (error) {
          for (const read of ofEvent) read.reject(error);
        }
      }),
    );
  }

  async function readWhileAsked(): Promise<void> {
    reading = true;
    try {
      while (waiting.length > 0) {
        const reads = waiting;
        waiting = [];
        await answer(reads);
      }
    } finally {
      reading = false;
    }
  }

  return (eventId, userId) =>
    new Promise((resolve, reject) => {
      waiting.push({ eventId, userId, resolve, reject });
      if (!reading) void readWhileAsked();
    });
}
