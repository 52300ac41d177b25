/**
 * The server's clock as the page best knows it. A hold's `expiresAt` comes from the database's
 * clock; a countdown run on a laptop whose clock is off by a minute would be off by as much.
 */
export function createServerClock(localNow: () => number = Date.now) {
  let offsetMs = 0;
  return {
    /** A time the server stamped while answering a request sent at `sentAt` and answered at `receivedAt` (local ms). */
    observe(serverTime: string, sentAt: number, receivedAt: number): void {
      const stamped = Date.parse(serverTime);
      if (Number.isFinite(stamped)) offsetMs = stamped - (sentAt + receivedAt) / 2;
    },
    now: () => localNow() + offsetMs,
  };
}

export type ServerClock = ReturnType<typeof createServerClock>;
