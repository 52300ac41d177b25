export interface BackoffSettings {
  /** The ceiling of the first wait; each failed attempt doubles it. */
  baseMs: number;
  /** No wait is ever longer than this. */
  capMs: number;
}

/**
 * Exponential backoff with full jitter: a uniformly random wait in [0, min(cap, base·2^attempt)).
 * Clients dropped together (a server restart drops everyone) come back spread out instead of
 * all at once.
 */
export function reconnectDelayMs(attempt: number, { baseMs, capMs }: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
