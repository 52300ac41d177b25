import type { Database } from '../db/client';

/** A committed change of an event's seats: full state, never a delta, so any one message can be rendered alone. */
export interface SeatChange {
  eventId: number;
  kind: 'booking_created' | 'booking_cancelled' | 'seat_update';
  availableSeats: number;
  capacity: number;
  version: number;
}

export type SeatChangeHandler = (change: SeatChange) => void;

/**
 * How seat changes travel from the transaction that made them to the WebSocket manager(s).
 * Services call `recordInTransaction` inside the transaction and `committed` after it; a
 * transport decides which of the two actually carries the change.
 */
export interface SeatFeed {
  readonly transport: 'in-process' | 'postgres';
  recordInTransaction(tx: Database, change: SeatChange): Promise<void>;
  committed(change: SeatChange): void;
  subscribe(handler: SeatChangeHandler): () => void;
  close(): Promise<void>;
}

export function createHandlerSet() {
  const handlers = new Set<SeatChangeHandler>();
  return {
    add(handler: SeatChangeHandler): () => void {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    emit(change: SeatChange): void {
      for (const handler of handlers) handler(change);
    },
  };
}

/** Single process: the change is handed over in memory once the transaction has committed. */
export function createInProcessSeatFeed(): SeatFeed {
  const handlers = createHandlerSet();
  return {
    transport: 'in-process',
    async recordInTransaction() {},
    committed(change) {
      handlers.emit(change);
    },
    subscribe: handlers.add,
    async close() {},
  };
}
