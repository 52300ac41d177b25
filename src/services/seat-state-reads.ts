import { seatStateOf } from '../protocol';
import { isVisibleTo, type ViewableSeatState } from './event';
import type { SeatSnapshot, SeatStateLoader } from './websocket';

/**
 * Snapshot reads, batched: every subscription asking within one timer turn is answered from one
 * query for all the events asked about, each viewer's visibility decided on the row read.
 *
 * Why: at an on-sale thousands of watchers subscribe within seconds, and one query each is that
 * many round trips for the same row. On PGlite, when its queries still ran in the server's own
 * thread, the garbage of one per watcher, interleaved with each connection's long-lived objects,
 * kept ~18 KB per connection resident (docs/performance.md, `connections`).
 *
 * A read joins a batch only before its query starts, so what it gets was read after it asked,
 * as with a query of its own.
 */
export function createBatchedSeatStateLoader(readStates: (eventIds: number[]) => Promise<ViewableSeatState[]>): SeatStateLoader {
  interface Waiting {
    eventId: number;
    viewerId: number;
    resolve: (state: SeatSnapshot | null) => void;
    reject: (error: unknown) => void;
  }
  let batch: Waiting[] = [];

  async function answer(waiting: Waiting[]): Promise<void> {
    try {
      const rows = await readStates([...new Set(waiting.map((read) => read.eventId))]);
      const byEvent = new Map(rows.map((row) => [row.eventId, row]));
      for (const read of waiting) {
        const row = byEvent.get(read.eventId);
        // Each reader gets an object of its own, without the visibility columns.
        read.resolve(row && isVisibleTo(row, read.viewerId) ? { ...seatStateOf(row), queue: row.queue } : null);
      }
    } catch (error) {
      for (const read of waiting) read.reject(error);
    }
  }

  return (eventId, viewerId) =>
    new Promise((resolve, reject) => {
      if (batch.length === 0) {
        setTimeout(() => {
          const waiting = batch;
          batch = [];
          void answer(waiting);
        }, 0);
      }
      batch.push({ eventId, viewerId, resolve, reject });
    });
}
