import type { SQL, SQLWrapper } from 'drizzle-orm';
import { describeError } from '../lib/error-description';
import { createLogger, type Logger } from '../lib/logger';
import type { ReleaseReason, SeatMessageType, SeatStateFields } from '../protocol';

/**
 * A committed change of an event's seats: full state, never a delta, so any one message can be
 * rendered alone. `reason` only for `seats_released`.
 */
export type SeatChange = SeatStateFields & { kind: SeatMessageType; reason?: ReleaseReason };

/**
 * The event became a draft: from now on only its organizer may watch it. Travels the seat
 * changes' way, so every process hears it once committed, in order with them, and removes the
 * other watchers; it goes to no socket. `version` is the event's at that commit (a status change
 * does not bump it).
 */
export interface EventHidden {
  kind: 'event_hidden';
  eventId: number;
  organizerId: number;
  version: number;
}

/**
 * A message for one user's every connection, in whichever process holds them: a hold's owner is
 * warned before it expires and told when its seats came back. Carried in order with the seat
 * changes, so `hold_expired` never arrives before the `seats_released` of the same sweep.
 */
export interface HoldNotice {
  kind: 'hold_expiring' | 'hold_expired';
  eventId: number;
  userId: number;
  holdId: number;
  /** The hold's expiry, ms since the epoch (what `hold_expiring` announces). */
  expiresAtMs: number;
}

/** What the feed carries. */
export type FeedChange = SeatChange | EventHidden | HoldNotice;

export function isHoldNotice<C extends { kind: string }>(change: C): change is Extract<C, { kind: HoldNotice['kind'] }> {
  return change.kind === 'hold_expiring' || change.kind === 'hold_expired';
}

/** A feed change whose fields (the kind apart) are columns of the statement that makes it, or plain values. */
export type FeedChangeSql<C extends FeedChange = FeedChange> = C extends FeedChange
  ? { [K in keyof C]: K extends 'kind' ? C[K] : C[K] | SQLWrapper }
  : never;
export type SeatChangeSql = FeedChangeSql<SeatChange>;

export type SeatChangeHandler = (change: FeedChange) => void;

/**
 * How seat changes travel from the statement that made them to the WebSocket manager(s).
 * Services record the change in that statement (`recordInStatement`, in its select or
 * RETURNING list) and call `committed` after the commit; the transport decides which of the two
 * actually carries the change. Neither waits for the change to reach a socket.
 */
export interface SeatFeed {
  /**
   * An expression for the select list of the statement that makes the change, recording it as
   * part of that statement; null when the transport carries changes only through `committed`.
   */
  recordInStatement(change: FeedChangeSql): SQL | null;
  committed(change: FeedChange): void;
  subscribe(handler: SeatChangeHandler): () => void;
  close(): Promise<void>;
}

/**
 * The feed's subscribers. A subscriber that throws is logged and the others still hear the
 * change: thrown back, it would turn a committed booking into a 500 (in-process) or break the
 * LISTEN connection's read loop (PostgreSQL).
 */
export function createHandlerSet(logger: Logger) {
  const handlers = new Set<SeatChangeHandler>();
  return {
    add(handler: SeatChangeHandler): () => void {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    emit(change: FeedChange): void {
      for (const handler of handlers) {
        try {
          handler(change);
        } catch (error) {
          logger.error('seat feed: subscriber failed', { eventId: change.eventId, ...describeError(error) });
        }
      }
    },
  };
}

/** Single process: the change is handed over in memory once the transaction has committed. */
export function createInProcessSeatFeed(options: { logger?: Logger } = {}): SeatFeed {
  const handlers = createHandlerSet(options.logger ?? createLogger('error'));
  return {
    recordInStatement: () => null,
    committed: handlers.emit,
    subscribe: handlers.add,
    async close() {},
  };
}
