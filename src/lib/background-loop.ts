import { describeError } from './error-description';
import type { Logger } from './logger';

export interface BackgroundLoopOptions {
  logger: Logger;
  /** Names the job in the log: "<name>: failed; retrying", "<name>: database answers again". */
  name: string;
  turn(): Promise<void>;
  /** When the next turn is due, in ms from when this one began (`startedAt`, `performance.now()`); at once when past. */
  nextInMs(startedAt: number): number;
}

/**
 * A job every process runs in the background, starting now: one turn at a time, at the pace
 * `nextInMs` sets. A failing turn is logged once per outage and tried again on the next turn;
 * its work waits in the database meanwhile.
 */
export function startBackgroundLoop(options: BackgroundLoopOptions) {
  const { logger, name } = options;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  let failing = false;

  async function run(): Promise<void> {
    try {
      await options.turn();
      if (failing) logger.info(`${name}: database answers again`);
      failing = false;
    } catch (error) {
      if (!failing) logger.warn(`${name}: failed; retrying`, { ...describeError(error) });
      failing = true;
    }
  }

  function schedule(inMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const startedAt = performance.now();
      running = run().finally(() => {
        running = null;
        schedule(options.nextInMs(startedAt));
      });
    }, Math.max(0, inMs));
  }

  schedule(0);
  return {
    /** No turn starts after this; resolves once the one running has ended. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
