import type { Database } from '../db/client';
import { startBackgroundLoop } from '../lib/background-loop';
import type { Logger } from '../lib/logger';
import type { QueueProgress } from '../protocol';
import { drawIfDue, eventsToDraw, readMovingLines, type MovingLine } from './queue';

/**
 * What each process does for the waiting rooms, by the database's clock: draws the lottery of
 * every event whose `salesStartAt` has come (whichever process is first; the others find it
 * drawn), and about once a second reads each moving line and hands its progress to the
 * WebSocket manager, which tells that event's watchers here. Nothing lives only in this
 * process: the line is in the database, so a restart or a second process changes nothing.
 */

/** The lottery runs within this of `salesStartAt`. */
const DRAW_CHECK_MS = 250;
/** SPEC §9: `queue_progress` at most once a second while a line moves. */
export const PROGRESS_INTERVAL_MS = 1_000;
/** A line due this soon is read in this turn rather than in a timer's turn a few ms later. */
const EARLY_MS = 15;
/** How long after its moment a line is read, so the database's clock has passed it too. */
const AFTER_MOMENT_MS = 5;
/** A whole second is skipped when its read would come sooner than this after the last answer. */
const SECOND_MARK_MIN_GAP_MS = 500;

/**
 * When to read a line again, in ms from the last read's answer (which took `queryMs`). A moving
 * line is read on the database clock's whole seconds, the same moments in every process, so all
 * watchers see the line move together and the buyers it admits book in one burst a second
 * rather than one per process. Its moment (`salesStartAt`, or the last ticket's admission) is
 * read as it comes instead of up to a second later, when it is 1–2 s away.
 */
function msToNextRead(line: MovingLine, queryMs: number): number {
  const until = line.msToNextMoment;
  // salesStartAt has passed and no process has drawn yet: look again soon.
  if (!line.drawn && until !== null && until <= 0) return DRAW_CHECK_MS;
  if (until !== null && until > PROGRESS_INTERVAL_MS && until < 2 * PROGRESS_INTERVAL_MS) return until + AFTER_MOMENT_MS;
  // The database read its clock between the query's start and its answer: counted from the
  // start, a slow answer does not push the reads off the whole seconds.
  let untilMark = line.msToNextSecond + AFTER_MOMENT_MS - queryMs;
  while (untilMark < SECOND_MARK_MIN_GAP_MS) untilMark += PROGRESS_INTERVAL_MS;
  return untilMark;
}

export interface QueueTickerOptions {
  db: Database;
  logger: Logger;
  onProgress(progress: QueueProgress): void;
  /** Tickets this process counted as admitted (seatwatch_queue_admitted_total). */
  onAdmitted(count: number): void;
}

export function startQueueTicker(options: QueueTickerOptions) {
  const { db, logger } = options;
  /** Every moving line is looked for this often; a known one is read when its own time comes. */
  let lookForLinesAt = -Infinity;
  const nextReadAt = new Map<number, number>();

  async function readLines(): Promise<void> {
    const now = performance.now();
    const anyDue = [...nextReadAt.values()].some((at) => at <= now + EARLY_MS);
    if (!anyDue && now < lookForLinesAt) return;
    lookForLinesAt = now + PROGRESS_INTERVAL_MS;
    const lines = await readMovingLines(db);
    // The database measured each line's next moment from some time before this: counting from
    // the answer errs late by a few ms rather than early by the query's time.
    const answeredAt = performance.now();
    const seen = new Set<number>();
    for (const line of lines) {
      seen.add(line.eventId);
      if (line.newlyAdmitted > 0) options.onAdmitted(line.newlyAdmitted);
      const readAt = nextReadAt.get(line.eventId);
      if (readAt !== undefined && readAt > now + EARLY_MS) continue;
      nextReadAt.set(line.eventId, answeredAt + msToNextRead(line, answeredAt - now));
      const { eventId, servingThrough, waiting, ratePerMinute } = line;
      options.onProgress({ eventId, servingThrough, waiting, ratePerMinute });
    }
    for (const eventId of nextReadAt.keys()) if (!seen.has(eventId)) nextReadAt.delete(eventId);
  }

  /**
   * The lines due are read before the lottery check: at an on-sale's whole seconds a statement
   * ahead of the read waits its turn in a busy database too, and delays every watcher's message.
   * A line just drawn is read in the next turn, at once.
   */
  async function tick(): Promise<void> {
    await readLines();
    for (const eventId of await eventsToDraw(db)) {
      const drawn = await drawIfDue(db, eventId);
      if (drawn === null) continue;
      nextReadAt.set(eventId, -Infinity);
      logger.info('waiting room: lottery drawn', { eventId, tickets: drawn });
    }
  }

  /** Every DRAW_CHECK_MS from the last tick's start, or sooner when a line is due to be read. */
  function nextInMs(startedAt: number): number {
    const now = performance.now();
    let wait = DRAW_CHECK_MS - (now - startedAt);
    for (const at of nextReadAt.values()) wait = Math.min(wait, at - now);
    return wait;
  }

  const loop = startBackgroundLoop({ logger, name: 'waiting room', turn: tick, nextInMs });
  return {
    stop: () => loop.stop(),
  };
}
