import type { FeedChange } from './seat-feed';

/** A seat-changing statement of this process, from before it is sent until its outcome is known. */
export interface ChangeInFlight {
  /**
   * The version the statement committed, or null when it changed nothing (refused, failed). Once
   * only. Resolves once that change has been handed on, or after the hold at most (the change may
   * never come: a lost notification), or at once when nothing is grouped.
   */
  settle(version: number | null): Promise<void>;
}

/**
 * How long a change may wait for the statements that were running beside it. A row lock apart,
 * a few bookings of one event commit within a few milliseconds; a cohort slower than this (a
 * statement stuck on something else) does not hold the change any longer.
 */
export const MAX_GROUPING_HOLD_MS = 10;

export interface SeatChangeGrouping {
  begin(eventId: number): ChangeInFlight;
  /** A committed change, handed on now or once the statements beside it are done. */
  arrive(change: FeedChange): void;
  /** Changes whose notification was lost with a LISTEN connection will not come; stop expecting them. */
  forgetAwaited(): void;
  /** Hands on whatever is held; from then on every change is handed on at once (the feed is closing). */
  close(): void;
  /** Events with statements, awaited changes or held changes tracked now. */
  trackedEvents(): number;
}

const settled = Promise.resolve();
const noChangeTracked: ChangeInFlight = { settle: () => settled };

/** A settled statement waiting to hear that its change has been handed on. */
interface HandOnWaiter {
  version: number;
  resolve(): void;
}

interface EventChanges {
  open: Set<ChangeInFlight>;
  /** Settled statements whose change has not arrived yet, with the version they committed. */
  awaited: Map<ChangeInFlight, number>;
  newestArrived: number;
  newestHandedOn: number;
  held: FeedChange[];
  /** The statements the held changes wait for: those running, or awaited, when the first was held. */
  cohort: Set<ChangeInFlight> | null;
  timer: ReturnType<typeof setTimeout> | null;
  waiters: Set<HandOnWaiter>;
}

/**
 * Lets the seat changes of one event whose statements ran side by side leave together.
 *
 * uWS writes everything published in one event-loop turn to each subscriber in one go, and at
 * thousands of watchers the write, not the message, is what costs (~10 µs of kernel time per
 * socket here). Bookings of one event commit a row lock apart, so their changes arrive one or
 * two per turn and each pays a write to every watcher. When a change arrives while other
 * statements of the same event are running here, it waits (at most `maxHoldMs`) for those —
 * not for any started later, so a steady stream cannot hold it — and then all of them are handed
 * on in one turn, in order. A change with nothing running beside it is handed on at once.
 * `maxHoldMs` 0 turns it off.
 *
 * `settle` tells its caller when the statement's change has been handed on, so a booking's
 * response can leave in the turn its change is published, as a bare publish server's does. Sent
 * as soon as the statement returns, a response brings that client's next request in while the
 * others of its group are still running; that request's statement then misses the group, and the
 * groups fall apart (3.1 messages per write instead of 3.6 with 4 bookings in flight).
 */
export function createSeatChangeGrouping(deliver: (change: FeedChange) => void, maxHoldMs: number): SeatChangeGrouping {
  const byEvent = new Map<number, EventChanges>();
  let closed = maxHoldMs <= 0;

  function forgetIfIdle(eventId: number, changes: EventChanges): void {
    // Only the entry still current: a stale one must not take a newer entry of the event with it.
    if (byEvent.get(eventId) !== changes) return;
    if (changes.open.size === 0 && changes.awaited.size === 0 && changes.held.length === 0 && changes.waiters.size === 0) byEvent.delete(eventId);
  }

  function handOn(changes: EventChanges, change: FeedChange): void {
    deliver(change);
    changes.newestHandedOn = Math.max(changes.newestHandedOn, change.version);
    for (const waiter of changes.waiters) if (waiter.version <= changes.newestHandedOn) waiter.resolve();
  }

  function waitForHandOn(eventId: number, changes: EventChanges, version: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: HandOnWaiter = {
        version,
        resolve() {
          clearTimeout(timer);
          changes.waiters.delete(waiter);
          resolve();
          forgetIfIdle(eventId, changes);
        },
      };
      const timer = setTimeout(waiter.resolve, maxHoldMs);
      changes.waiters.add(waiter);
    });
  }

  function release(eventId: number, changes: EventChanges): void {
    if (changes.timer) clearTimeout(changes.timer);
    changes.timer = null;
    changes.cohort = null;
    const held = changes.held;
    changes.held = [];
    for (const change of held) handOn(changes, change);
    forgetIfIdle(eventId, changes);
  }

  function releaseIfCohortDone(eventId: number, changes: EventChanges): void {
    if (!changes.cohort) return;
    for (const ticket of changes.cohort) if (changes.open.has(ticket) || changes.awaited.has(ticket)) return;
    release(eventId, changes);
  }

  return {
    begin(eventId) {
      if (closed) return noChangeTracked;
      let changes = byEvent.get(eventId);
      if (!changes) {
        changes = { open: new Set(), awaited: new Map(), newestArrived: 0, newestHandedOn: 0, held: [], cohort: null, timer: null, waiters: new Set() };
        byEvent.set(eventId, changes);
      }
      const tracked = changes;
      const ticket: ChangeInFlight = {
        settle(version) {
          // Open until settled, so a second call finds nothing to do.
          if (!tracked.open.delete(ticket)) return settled;
          if (version !== null && version > tracked.newestArrived) tracked.awaited.set(ticket, version);
          // Registered before the cohort may be released below, which hands this change on.
          const handedOn = version === null || closed || version <= tracked.newestHandedOn ? settled : waitForHandOn(eventId, tracked, version);
          releaseIfCohortDone(eventId, tracked);
          forgetIfIdle(eventId, tracked);
          return handedOn;
        },
      };
      tracked.open.add(ticket);
      return ticket;
    },

    arrive(change) {
      const changes = byEvent.get(change.eventId);
      if (closed || !changes) return deliver(change);
      changes.newestArrived = Math.max(changes.newestArrived, change.version);
      for (const [ticket, version] of changes.awaited) if (version <= changes.newestArrived) changes.awaited.delete(ticket);
      if (changes.cohort) {
        changes.held.push(change);
        return releaseIfCohortDone(change.eventId, changes);
      }
      if (changes.open.size === 0 && changes.awaited.size === 0) {
        handOn(changes, change);
        return forgetIfIdle(change.eventId, changes);
      }
      changes.held.push(change);
      changes.cohort = new Set([...changes.open, ...changes.awaited.keys()]);
      changes.timer = setTimeout(() => release(change.eventId, changes), maxHoldMs);
    },

    forgetAwaited() {
      for (const [eventId, changes] of [...byEvent]) {
        changes.awaited.clear();
        // Their statements' callers stop waiting too; changes already here but held still leave first.
        for (const waiter of changes.waiters) if (waiter.version > changes.newestArrived) waiter.resolve();
        releaseIfCohortDone(eventId, changes);
        forgetIfIdle(eventId, changes);
      }
    },

    close() {
      closed = true;
      for (const [eventId, changes] of [...byEvent]) {
        release(eventId, changes);
        for (const waiter of changes.waiters) waiter.resolve();
      }
      byEvent.clear();
    },

    trackedEvents: () => byEvent.size,
  };
}
