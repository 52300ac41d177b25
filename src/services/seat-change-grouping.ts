import type { SeatChange } from './seat-feed';

/** A seat-changing statement of this process, from before it is sent until its outcome is known. */
export interface ChangeInFlight {
  /** The version the statement committed, or null when it changed nothing (refused, failed). Once only. */
  settle(version: number | null): void;
}

/**
 * How long a change may wait for the statements that were running beside it. A row lock apart,
 * a few bookings of one event commit within a few milliseconds; a cohort slower than this (a
 * statement stuck on something else) does not hold the change any longer.
 */
export const MAX_GROUPING_HOLD_MS = 10;

const noChangeTracked: ChangeInFlight = { settle() {} };

interface Ticket {
  settled: boolean;
  version: number | null;
}

interface EventChanges {
  open: Set<Ticket>;
  /** Settled with a version whose change has not arrived yet. */
  awaited: Set<Ticket>;
  newestArrived: number;
  held: SeatChange[];
  /** The statements the held changes wait for: those running, or awaited, when the first was held. */
  cohort: Set<Ticket> | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Lets the seat changes of one event whose statements ran side by side leave together.
 *
 * uWS writes everything published in one event-loop turn to each subscriber in one go, and at
 * thousands of watchers the write, not the message, is what costs (~15 µs of kernel time per
 * socket here). Bookings of one event commit a row lock apart, so their changes arrive one or
 * two per turn and each pays a write to every watcher. When a change arrives while other
 * statements of the same event are running here, it waits (at most `maxHoldMs`) for those —
 * not for any started later, so a steady stream cannot hold it — and then all of them are handed
 * on in one turn, in order. A change with nothing running beside it is handed on at once.
 */
export function createSeatChangeGrouping(deliver: (change: SeatChange) => void, maxHoldMs = MAX_GROUPING_HOLD_MS) {
  if (maxHoldMs <= 0) return { begin: (): ChangeInFlight => noChangeTracked, arrive: deliver, flushAll() {} };
  const byEvent = new Map<number, EventChanges>();

  function changesOf(eventId: number): EventChanges {
    let changes = byEvent.get(eventId);
    if (!changes) {
      changes = { open: new Set(), awaited: new Set(), newestArrived: 0, held: [], cohort: null, timer: null };
      byEvent.set(eventId, changes);
    }
    return changes;
  }

  function forgetIfIdle(eventId: number, changes: EventChanges): void {
    if (changes.open.size === 0 && changes.awaited.size === 0 && changes.held.length === 0) byEvent.delete(eventId);
  }

  function release(eventId: number, changes: EventChanges, timedOut = false): void {
    // A statement whose change never came (its notification lost with a LISTEN connection) must
    // not hold every later change of the event too.
    if (timedOut) for (const ticket of changes.cohort ?? []) changes.awaited.delete(ticket);
    if (changes.timer) clearTimeout(changes.timer);
    changes.timer = null;
    changes.cohort = null;
    const held = changes.held;
    changes.held = [];
    forgetIfIdle(eventId, changes);
    for (const change of held) deliver(change);
  }

  function releaseIfCohortDone(eventId: number, changes: EventChanges): void {
    if (!changes.cohort) return;
    for (const ticket of changes.cohort) if (changes.open.has(ticket) || changes.awaited.has(ticket)) return;
    release(eventId, changes);
  }

  /** Drops settled tickets whose change has now arrived. */
  function markArrived(changes: EventChanges): void {
    for (const ticket of changes.awaited) if (ticket.version! <= changes.newestArrived) changes.awaited.delete(ticket);
  }

  return {
    begin(eventId: number): ChangeInFlight {
      const changes = changesOf(eventId);
      const ticket: Ticket = { settled: false, version: null };
      changes.open.add(ticket);
      return {
        settle(version) {
          if (ticket.settled) return;
          ticket.settled = true;
          ticket.version = version;
          changes.open.delete(ticket);
          if (version !== null && version > changes.newestArrived) changes.awaited.add(ticket);
          releaseIfCohortDone(eventId, changes);
          forgetIfIdle(eventId, changes);
        },
      };
    },

    arrive(change: SeatChange): void {
      const changes = byEvent.get(change.eventId);
      if (!changes) return deliver(change);
      changes.newestArrived = Math.max(changes.newestArrived, change.version);
      markArrived(changes);
      if (changes.held.length > 0) {
        changes.held.push(change);
        return releaseIfCohortDone(change.eventId, changes);
      }
      if (changes.open.size === 0 && changes.awaited.size === 0) {
        forgetIfIdle(change.eventId, changes);
        return deliver(change);
      }
      changes.held.push(change);
      changes.cohort = new Set([...changes.open, ...changes.awaited]);
      changes.timer = setTimeout(() => release(change.eventId, changes, true), maxHoldMs);
    },

    /** Hands on whatever is held, now (the feed is closing). */
    flushAll(): void {
      for (const [eventId, changes] of [...byEvent]) if (changes.held.length > 0) release(eventId, changes);
    },
  };
}

