import type { QueueProgress } from '../protocol';

/**
 * Where an event's waiting line stands (SPEC §9), as last heard from `queue_progress` or a
 * `subscribed` snapshot. A snapshot says nothing of the pace, so `ratePerMinute` is what the last
 * `queue_progress` said, and absent until one has.
 */
export type LineProgress = Omit<QueueProgress, 'ratePerMinute'> & { ratePerMinute?: number };

/** A caller's place: how many tickets are still ahead of theirs, counting their own; 0 once admitted. */
export function placeInLine(ticket: number, servingThrough: number): number {
  return Math.max(0, ticket - servingThrough);
}

/**
 * The newest line progress per event, to drop what is not news. Each server process reads the
 * line at its own moments, so a reading can arrive after a newer one: a `servingThrough` below
 * the last one seen is stale (admissions are never taken back) and is dropped, or a caller's
 * place would jump back.
 */
export function createLineProgress() {
  const latestByEvent = new Map<number, LineProgress>();

  return {
    /** Records what was heard; the event's progress when it is news, null when stale or a repeat. */
    accept(heard: LineProgress): LineProgress | null {
      const known = latestByEvent.get(heard.eventId);
      if (known && heard.servingThrough < known.servingThrough) return null;
      const ratePerMinute = heard.ratePerMinute ?? known?.ratePerMinute;
      const next: LineProgress = { eventId: heard.eventId, servingThrough: heard.servingThrough, waiting: heard.waiting, ...(ratePerMinute !== undefined && { ratePerMinute }) };
      if (known && known.servingThrough === next.servingThrough && known.waiting === next.waiting && known.ratePerMinute === next.ratePerMinute) return null;
      latestByEvent.set(heard.eventId, next);
      return { ...next };
    },
    forget(eventId: number): void {
      latestByEvent.delete(eventId);
    },
    get(eventId: number): LineProgress | undefined {
      const progress = latestByEvent.get(eventId);
      return progress && { ...progress };
    },
  };
}
