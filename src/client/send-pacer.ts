import type { Timers } from './timers';

export interface SendPacerSettings {
  /** Frames that may go out at once. */
  burst: number;
  /** Frames per second after the burst. */
  perSecond: number;
}

/**
 * Keeps outgoing frames under the server's per-connection rate limit (SPEC §3: a bucket of 40
 * refilled at 20/s), so resubscribing to many events after a reconnect is paced instead of
 * being answered `rate_limited`. A token bucket; frames over it wait their turn in order.
 */
export function createSendPacer(send: (frame: string) => void, settings: SendPacerSettings, timers: Timers, now: () => number = Date.now) {
  const waiting: string[] = [];
  let tokens = settings.burst;
  let refilledAt = now();
  let drainTimer: ReturnType<Timers['setTimeout']> | null = null;

  function refill(): void {
    const at = now();
    tokens = Math.min(settings.burst, tokens + ((at - refilledAt) / 1000) * settings.perSecond);
    refilledAt = at;
  }

  function drain(): void {
    drainTimer = null;
    refill();
    while (waiting.length > 0 && tokens >= 1) {
      tokens -= 1;
      send(waiting.shift()!);
    }
    if (waiting.length > 0) {
      drainTimer = timers.setTimeout(drain, Math.ceil(((1 - tokens) / settings.perSecond) * 1000));
    }
  }

  return {
    push(frame: string): void {
      waiting.push(frame);
      if (!drainTimer) drain();
    },
    /** Drops whatever waits (the connection is gone) and starts the next one with a full bucket. */
    reset(): void {
      waiting.length = 0;
      if (drainTimer) timers.clearTimeout(drainTimer);
      drainTimer = null;
      tokens = settings.burst;
      refilledAt = now();
    },
  };
}
