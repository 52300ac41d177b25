/** The oversell check every booking run ends with: what the load counted against what the database holds. */

/** An event's seats after a run: its capacity, its available and held seats and the seats its confirmed bookings hold. */
export interface SeatAudit {
  capacity: number;
  availableSeats: number;
  confirmedSeats: number;
  /** Seats in active holds (the bare yardstick has none). */
  heldSeats?: number;
}

/** True when more than `seats` bookings were confirmed or the event's counts disagree with its bookings. */
export function isOversold(confirmed: number, seats: number, audit: SeatAudit): boolean {
  return (
    confirmed > seats ||
    audit.availableSeats < 0 ||
    audit.confirmedSeats + (audit.heldSeats ?? 0) > audit.capacity ||
    audit.availableSeats + audit.confirmedSeats + (audit.heldSeats ?? 0) !== audit.capacity
  );
}
