import type { Logger } from '../lib/logger';
import { DatabaseUnavailableError } from './unreachable';

export interface AvailabilityGateOptions {
  /** Resolves when the database answers; rejects, within its own short timeout, when it does not. */
  probe(): Promise<void>;
  /** The database was just found unreachable: whatever still waits on it should fail now. */
  onUnreachable(): void;
  /** Between probes while the database is unreachable: also the longest a recovery goes unnoticed. */
  retryMs: number;
  logger?: Logger;
}

/**
 * Whether queries should be sent at all. A hint that the database went away (a pool connection
 * closed, a ping failed) starts a probe on a connection of its own; only a failed probe closes
 * the gate, so one killed connection is not taken for an outage. While closed, queries fail at
 * once instead of queueing behind connection attempts, and the probe repeats every `retryMs`
 * until the database answers, which opens the gate again.
 */
export function createAvailabilityGate(options: AvailabilityGateOptions) {
  let reachable = true;
  let unreachableSince = 0;
  let probing: Promise<void> | null = null;
  let closed = false;

  async function probeUntilReachable(): Promise<void> {
    while (!closed) {
      try {
        await options.probe();
        if (!reachable) options.logger?.info('database reachable again', { outageMs: Date.now() - unreachableSince });
        reachable = true;
        return;
      } catch (error) {
        if (reachable) {
          reachable = false;
          unreachableSince = Date.now();
          options.logger?.warn('database unreachable; requests answer 503 until it is back', { error: error instanceof Error ? error.message : String(error) });
          options.onUnreachable();
        }
      }
      await Bun.sleep(options.retryMs);
    }
  }

  return {
    get reachable(): boolean {
      return reachable;
    },
    /** Throws at once while the database is known to be unreachable. */
    check(): void {
      if (!reachable) throw new DatabaseUnavailableError();
    },
    /** Something suggests the database went away: find out, once at a time. */
    suspect(): void {
      if (probing || closed) return;
      probing = probeUntilReachable().finally(() => {
        probing = null;
      });
    },
    close(): void {
      closed = true;
    },
  };
}

export type AvailabilityGate = ReturnType<typeof createAvailabilityGate>;
