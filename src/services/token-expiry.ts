/**
 * When a connection's token stops being valid (SPEC §3: within a second of its `exp`, the
 * connection hears `token_expired` and is closed 4401). This only keeps the time; what happens
 * then is the manager's, which holds the socket.
 */

// setTimeout's longest delay; a later expiry (JWT_EXPIRES_IN over ~24 days) is re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface TokenExpiry {
  /** Unix seconds at which the token stops being valid; may be moved later (a newer token). */
  expiresAt: number;
  /** For good: `onExpired` is not called after it. */
  stop(): void;
}

/**
 * Calls `onExpired` once, when `expiresAt` has passed. A timer per connection rather than a
 * periodic scan of all of them: a scan of 10,000 clients every 250 ms cost ~10% of a core in the
 * fan-out benchmark; a timer costs nothing until it fires.
 */
export function watchTokenExpiry(expiresAt: number, onExpired: () => void, now: () => number = Date.now): TokenExpiry {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expiry: TokenExpiry = {
    expiresAt,
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
  function arm(): void {
    const remainingMs = expiry.expiresAt * 1000 - now();
    timer = setTimeout(() => {
      timer = null;
      // Moved later meanwhile, or beyond one timer's reach: wait on.
      if (expiry.expiresAt * 1000 > now()) return arm();
      onExpired();
    }, Math.min(Math.max(remainingMs, 0), MAX_TIMER_MS));
  }
  arm();
  return expiry;
}
