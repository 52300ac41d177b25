/** The oversell check every booking run ends with: what the load counted against what the database holds. */

/** An event's seats after a run: its capacity, its available seats and the seats its confirmed bookings hold. */
export interface SeatAudit {
  capacity: number;
  availableSeats: number;
  confirmedSeats: number;
}

/** True when more than `seats` bookings were confirmed or the event's counts disagree with its bookings. */
export function isOversold(confirmed: number, seats: number, audit: SeatAudit): boolean {
  return (
    confirmed > seats ||
    audit.availableSeats < 0 ||
    audit.confirmedSeats > audit.capacity ||
    audit.availableSeats + audit.confirmedSeats !== audit.capacity
  );
}
