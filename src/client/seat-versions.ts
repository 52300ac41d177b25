/** The seat state of one event as the server last reported it. */
export interface SeatState {
  eventId: number;
  availableSeats: number;
  /** Seats in active holds: neither available nor booked. */
  heldSeats: number;
  capacity: number;
  version: number;
}

/**
 * The newest version seen per event, to drop anything that is not news: an update whose version
 * is at or below the last one seen is stale (or a repeat) and is dropped.
 *
 * One exception: the first snapshot of an event on a new connection may carry a LOWER version
 * than the old connection did. A real server never goes back (versions live in the database),
 * so that only happens when the database itself went back — an in-memory development database
 * restarted, a restored backup — and then the new snapshot is the truth, not stale.
 */
export function createSeatVersions() {
  const latestByEvent = new Map<number, SeatState>();
  const awaitingSnapshot = new Set<number>();

  return {
    /** Records the state and returns true when it is news; false when it must be dropped. */
    accept(state: SeatState, isSnapshot: boolean): boolean {
      const firstOnConnection = isSnapshot && awaitingSnapshot.delete(state.eventId);
      const known = latestByEvent.get(state.eventId);
      const wentBack = firstOnConnection && known !== undefined && state.version < known.version;
      if (known && state.version <= known.version && !wentBack) return false;
      latestByEvent.set(state.eventId, { ...state });
      return true;
    },
    /** A new connection is about to resubscribe to these events. */
    expectSnapshots(eventIds: Iterable<number>): void {
      awaitingSnapshot.clear();
      for (const eventId of eventIds) awaitingSnapshot.add(eventId);
    },
    forget(eventId: number): void {
      latestByEvent.delete(eventId);
      awaitingSnapshot.delete(eventId);
    },
    get(eventId: number): SeatState | undefined {
      const state = latestByEvent.get(eventId);
      return state && { ...state };
    },
  };
}

export type SeatVersions = ReturnType<typeof createSeatVersions>;
