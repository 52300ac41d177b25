import { WS_LIMITS } from '../protocol';

/**
 * SPEC §3's limits on one WebSocket connection. Frame size and idleness are enforced by Bun
 * itself, from the options below; the message rate is counted here, per connection, and the
 * manager acts on the verdict (it is the one that holds the socket).
 */

/** Bun's per-socket options: frames over 16 KiB close 1009; a silent socket is pinged, then closed. */
export function socketLimits(idleTimeoutSeconds: number = WS_LIMITS.idleTimeoutSeconds) {
  return {
    maxPayloadLength: WS_LIMITS.maxFrameBytes,
    // A silent socket is pinged; one that answers nothing, not even the ping, is closed.
    idleTimeout: idleTimeoutSeconds,
    sendPings: true,
    // A watcher that stops reading is dropped rather than buffered without bound.
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: true,
  };
}

/** A connection's token bucket and its count of dropped messages. */
export interface MessageRate {
  tokens: number;
  refilledAt: number;
  /** When the last `rate_limited` error was owed, so at most one goes out a second. */
  errorSentAt: number;
  droppedInWindow: number;
  dropWindowStartedAt: number;
  /** Set once the flood limit is reached: frames are ignored until the 4429 close. */
  flooded: boolean;
}

/**
 * What to do with one incoming message: `accept` it; drop it (`drop`), drop it and answer
 * `rate_limited` (`drop_and_warn`), or drop it and close 4429 (`close`, once: the connection is
 * `flooded` from then on).
 */
export type MessageVerdict = 'accept' | 'drop' | 'drop_and_warn' | 'close';

export function createMessageRate(at: number): MessageRate {
  return { tokens: WS_LIMITS.rateBucketSize, refilledAt: at, errorSentAt: 0, droppedInWindow: 0, dropWindowStartedAt: 0, flooded: false };
}

/** Takes a token for a message arriving at `at` (ms), or counts it as dropped. */
export function admitMessage(rate: MessageRate, at: number): MessageVerdict {
  const elapsedSeconds = (at - rate.refilledAt) / 1000;
  rate.tokens = Math.min(WS_LIMITS.rateBucketSize, rate.tokens + elapsedSeconds * WS_LIMITS.rateRefillPerSecond);
  rate.refilledAt = at;
  if (rate.tokens >= 1) {
    rate.tokens -= 1;
    return 'accept';
  }
  if (at - rate.dropWindowStartedAt > WS_LIMITS.rateDropWindowMs) {
    rate.dropWindowStartedAt = at;
    rate.droppedInWindow = 0;
  }
  rate.droppedInWindow += 1;
  if (rate.droppedInWindow >= WS_LIMITS.rateDropsBeforeClose) {
    rate.flooded = true;
    return 'close';
  }
  if (at - rate.errorSentAt >= WS_LIMITS.rateErrorIntervalMs) {
    rate.errorSentAt = at;
    return 'drop_and_warn';
  }
  return 'drop';
}
