import { sql, type SQL } from 'drizzle-orm';
import type { DatabaseHandle } from '../db/client';
import type { ReleaseReason } from '../protocol';
import { describeError } from '../lib/error-description';
import type { Logger } from '../lib/logger';
import { createHandlerSet, isHoldNotice, type FeedChange, type FeedChangeSql, type SeatChange, type SeatFeed } from './seat-feed';

export const SEAT_CHANNEL = 'seat_changes';

const kinds: ReadonlySet<SeatChange['kind']> = new Set(['booking_created', 'booking_cancelled', 'seats_held', 'seats_released', 'seat_update']);
const reasons: ReadonlySet<string> = new Set(['released', 'expired']);
const noticeKinds: ReadonlySet<string> = new Set(['hold_expiring', 'hold_expired']);

/**
 * `eventId,kind,availableSeats,heldSeats,capacity,version,reason` for a seat change (reason empty
 * but for a release), `eventId,event_hidden,organizerId,version` for a move to draft,
 * `eventId,hold_expiring|hold_expired,userId,holdId,expiresAtMs` for a hold's owner: ids and
 * numbers only, a few dozen bytes. Built by PostgreSQL, so a statement can notify from the very
 * columns it just wrote.
 */
export function encodeSeatChange(change: FeedChangeSql): SQL {
  if (change.kind === 'event_hidden') {
    const { eventId, kind, organizerId, version } = change;
    return sql`concat_ws(',', ${eventId}::text, ${kind}::text, ${organizerId}::text, ${version}::text)`;
  }
  if (isHoldNotice(change)) {
    const { eventId, kind, userId, holdId, expiresAtMs } = change;
    return sql`concat_ws(',', ${eventId}::text, ${kind}::text, ${userId}::text, ${holdId}::text, ${expiresAtMs}::text)`;
  }
  const { eventId, kind, availableSeats, heldSeats, capacity, version, reason } = change;
  return sql`concat_ws(',', ${eventId}::text, ${kind}::text, ${availableSeats}::text, ${heldSeats}::text, ${capacity}::text, ${version}::text, ${reason ?? ''}::text)`;
}

const notifySeatChange = (change: FeedChangeSql) => sql`pg_notify(${SEAT_CHANNEL}, ${encodeSeatChange(change)})`;

const wholeNumber = (text: string | undefined) => (text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : null);
const epochMs = (text: string | undefined) => (text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : null);

export function decodeSeatChange(payload: string): FeedChange | null {
  const fields = payload.split(',');
  if (fields[1] === 'event_hidden') {
    const [eventId, organizerId, version] = [fields[0], fields[2], fields[3]].map(wholeNumber);
    if (fields.length !== 4 || eventId == null || organizerId == null || version == null) return null;
    return { eventId, kind: 'event_hidden', organizerId, version };
  }
  if (noticeKinds.has(fields[1]!)) {
    const [eventId, userId, holdId] = [fields[0], fields[2], fields[3]].map(wholeNumber);
    const expiresAtMs = epochMs(fields[4]);
    if (fields.length !== 5 || eventId == null || userId == null || holdId == null || expiresAtMs == null) return null;
    return { eventId, kind: fields[1] as 'hold_expiring' | 'hold_expired', userId, holdId, expiresAtMs };
  }
  if (fields.length !== 7) return null;
  const kind = fields[1] as SeatChange['kind'];
  const reason = fields[6]!;
  // A release says why; no other change does.
  const reasonFits = kind === 'seats_released' ? reasons.has(reason) : reason === '';
  const [eventId, availableSeats, heldSeats, capacity, version] = [fields[0], fields[2], fields[3], fields[4], fields[5]].map(wholeNumber);
  if (!kinds.has(kind) || !reasonFits || eventId == null || availableSeats == null || heldSeats == null || capacity == null || version == null) return null;
  const change: SeatChange = { eventId, kind, availableSeats, heldSeats, capacity, version };
  if (kind === 'seats_released') change.reason = reason as ReleaseReason;
  return change;
}

export interface PostgresSeatFeedOptions {
  logger: Logger;
  /** Re-reads and republishes what local watchers hold; run after every reconnect. */
  onReconnect: () => Promise<void>;
  /**
   * Hand this process's own committed changes on as soon as their statement returns, as well as
   * when their notification comes back (subscribers then see each twice; the WebSocket manager
   * drops the repeat by version). Only where skipping intermediate versions is allowed: a later
   * change made here can overtake an earlier one made elsewhere that is still on its way.
   */
  deliverOwnCommitsAtOnce?: boolean;
}

const CATCH_UP_RETRY_MS = [250, 1000, 5000];

/**
 * Seat changes through PostgreSQL LISTEN/NOTIFY. The notification is queued inside the
 * transaction that changes the seats, so PostgreSQL delivers it only if that transaction
 * commits, and in commit order. Every process — the one that made the change included —
 * publishes from its own LISTEN, so all of them follow one path; the WebSocket manager's
 * per-event version guard drops anything not newer than what it already sent. Under a
 * coalescing window the process that made a change also hands it on from the statement's result
 * (`deliverOwnCommitsAtOnce`), a notification round trip sooner.
 */
export async function createPostgresSeatFeed(database: DatabaseHandle, options: PostgresSeatFeedOptions): Promise<SeatFeed> {
  const { logger, onReconnect } = options;
  const handlers = createHandlerSet(logger);
  let lostAt: number | null = null;
  let closed = false;
  // Bumped on every outage, so a catch-up retry from an earlier recovery stops when a newer one takes over.
  let recoveries = 0;
  /**
   * Events with a move to draft committed here and not heard back yet, with its version: until
   * it is, their own changes wait for their notification too, so none overtakes the notice.
   */
  const hidingsUnheard = new Map<number, number>();

  function deliver(payload: string): void {
    const change = decodeSeatChange(payload);
    if (!change) {
      logger.warn('seat feed: ignored malformed notification', { channel: SEAT_CHANNEL, payload: payload.slice(0, 200) });
      return;
    }
    const hiddenAt = hidingsUnheard.get(change.eventId);
    if (hiddenAt !== undefined && 'version' in change && change.version >= hiddenAt) hidingsUnheard.delete(change.eventId);
    handlers.emit(change);
  }

  async function catchUp(recovery: number): Promise<void> {
    for (let attempt = 0; !closed && recovery === recoveries; attempt++) {
      try {
        await onReconnect();
        return;
      } catch (error) {
        const retryInMs = CATCH_UP_RETRY_MS[Math.min(attempt, CATCH_UP_RETRY_MS.length - 1)]!;
        logger.warn('seat feed: catch-up after reconnect failed; retrying', { ...describeError(error), retryInMs });
        await Bun.sleep(retryInMs);
      }
    }
  }

  const unlisten = await database.listen(SEAT_CHANNEL, deliver, {
    onListenLost() {
      lostAt = Date.now();
      recoveries += 1;
      logger.warn('seat feed: LISTEN connection lost; reconnecting (changes meanwhile are caught up after)', { channel: SEAT_CHANNEL });
    },
    onListenRetry({ attempt, retryInMs, error }) {
      logger.warn('seat feed: LISTEN reconnect failed', { attempt, retryInMs, error: error instanceof Error ? error.message : String(error) });
    },
    onListen() {
      if (lostAt === null) return;
      logger.info('seat feed: LISTEN connection recovered; catching up', { channel: SEAT_CHANNEL, outageMs: Date.now() - lostAt });
      lostAt = null;
      // Notifications sent while the connection was down never come; the catch-up read covers them.
      hidingsUnheard.clear();
      // Only now: a change committed after this read arrives as a notification, one before it is in the read.
      void catchUp(recoveries);
    },
  });

  return {
    // Queued by the statement that makes the change, so it is delivered only if that commits.
    recordInStatement: notifySeatChange,
    // The notification comes back through this process's own LISTEN once committed; with
    // deliverOwnCommitsAtOnce the statement's own result goes ahead of it. Not a move to draft:
    // no version tells its repeat apart, which could then remove a watcher who subscribed again
    // after the event was published again in between.
    committed(change) {
      // A notice has no version to tell its repeat apart: it travels only as its notification.
      if (!options.deliverOwnCommitsAtOnce || isHoldNotice(change)) return;
      if (change.kind === 'event_hidden') hidingsUnheard.set(change.eventId, change.version);
      else if (!hidingsUnheard.has(change.eventId)) handlers.emit(change);
    },
    subscribe: handlers.add,
    async close() {
      closed = true;
      await unlisten();
    },
  };
}
