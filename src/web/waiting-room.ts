/**
 * Waiting lines on the page (SPEC §6, §9): join, leave and rejoin through the REST API, the place
 * moving live with `queue_progress` (client library `onQueueProgress`, `queuePosition`), and the
 * server asked again whenever its answer is due to change: the lottery drawn, the turn come, the
 * admission over. A booking or hold refused at the sale's gate is explained here.
 */
import type { LineProgress } from '../client';
import { ApiError, type Api, type PublicEvent, type PublicQueueEntry } from './api';
import type { EventsView } from './events-view';
import type { createNotice } from './notice';
import type { ServerClock } from './server-clock';
import { createWaitingRoomView, durationText, phaseOf, saleTime, type LineState } from './waiting-room-view';

export interface WaitingRoomDependencies {
  api: Pick<Api, 'joinQueue' | 'queue' | 'leaveQueue'>;
  notice: ReturnType<typeof createNotice>;
  clock: ServerClock;
  eventsView: Pick<EventsView, 'nameOf' | 'queueSlot'>;
  /** The caller's live place for a ticket (the client library's `queuePosition`); null while unknown. */
  positionOf(eventId: number, ticket: number | null): number | null;
  /** A refused token ends the session; anything else is shown. */
  handleFailure(error: unknown, fallback: string): void;
}

/** Asking again while an answer stays overdue (the draw not run yet, a clock a little ahead): from 1 s, doubling, at most this. */
const RECHECK_CAP_MS = 30_000;

function isQueueEntry(value: unknown): value is PublicQueueEntry {
  return typeof value === 'object' && value !== null && typeof (value as { eventId?: unknown }).eventId === 'number' && typeof (value as { status?: unknown }).status === 'string';
}

export function createWaitingRoom({ api, notice, clock, eventsView, positionOf, handleFailure }: WaitingRoomDependencies) {
  const view = createWaitingRoomView(clock, { join, leave, rejoin, due: (eventId) => void read(eventId, { due: true }) });
  /** Per event: the number of the last request sent, and of the one whose answer is shown (a later request's answer wins over an earlier one's late answer). */
  const sent = new Map<number, number>();
  const applied = new Map<number, number>();
  const reading = new Set<number>();
  const readAgain = new Set<number>();
  const rechecks = new Map<number, { timer: ReturnType<typeof setTimeout>; attempt: number }>();

  const nextRequest = (eventId: number) => {
    const number = (sent.get(eventId) ?? 0) + 1;
    sent.set(eventId, number);
    return number;
  };

  function stateOf(eventId: number): LineState | undefined {
    return view.get(eventId)?.state;
  }

  function show(eventId: number, changes: Partial<LineState>): void {
    const state = stateOf(eventId);
    if (!state) return;
    const next = { ...state, ...changes };
    view.show(eventId, { ...next, livePosition: positionOf(eventId, next.queue?.ticket ?? null) });
  }

  /** The server's answer to request `number`, unless a later request's answer is shown already. */
  function answered(eventId: number, number: number, queue: PublicQueueEntry | null): boolean {
    if (number <= (applied.get(eventId) ?? 0)) return false;
    applied.set(eventId, number);
    show(eventId, { queue });
    return true;
  }

  function cancelRecheck(eventId: number): void {
    const recheck = rechecks.get(eventId);
    if (recheck) clearTimeout(recheck.timer);
    rechecks.delete(eventId);
  }

  /** The answer is still the one that was due to change: ask again a little later, then less often. */
  function recheckLater(eventId: number): void {
    const attempt = (rechecks.get(eventId)?.attempt ?? 0) + 1;
    cancelRecheck(eventId);
    const timer = setTimeout(() => void read(eventId, { due: true }), Math.min(RECHECK_CAP_MS, 500 * 2 ** attempt));
    rechecks.set(eventId, { timer, attempt });
  }

  /** Reads the caller's place; one read per event at a time, and one more when asked meanwhile. */
  async function read(eventId: number, { due = false } = {}): Promise<void> {
    if (!stateOf(eventId)) return;
    if (reading.has(eventId)) {
      readAgain.add(eventId);
      return;
    }
    reading.add(eventId);
    const number = nextRequest(eventId);
    const before = stateOf(eventId);
    try {
      const { queue } = await api.queue(eventId);
      answered(eventId, number, queue);
      const after = stateOf(eventId);
      const unchanged = before && after && phaseOf(after) === phaseOf(before) && after.queue?.ticket === before.queue?.ticket;
      if (due && unchanged) recheckLater(eventId);
      else cancelRecheck(eventId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) handleFailure(error, 'Reading your place failed.');
      else if (due) recheckLater(eventId);
    } finally {
      reading.delete(eventId);
      if (readAgain.delete(eventId)) void read(eventId, { due });
    }
  }
  async function write(eventId: number, change: () => Promise<PublicQueueEntry | null>, fallback: string): Promise<PublicQueueEntry | null | undefined> {
    show(eventId, { busy: true });
    const number = nextRequest(eventId);
    try {
      const queue = await change();
      answered(eventId, number, queue);
      cancelRecheck(eventId);
      return queue;
    } catch (error) {
      handleFailure(error, fallback);
      return undefined;
    } finally {
      show(eventId, { busy: false });
    }
  }

  function toldJoined(eventId: number, queue: PublicQueueEntry): void {
    const name = eventsView.nameOf(eventId);
    const phase = phaseOf({ queue, livePosition: positionOf(eventId, queue.ticket) });
    const { event } = view.get(eventId) ?? {};
    if (phase === 'drawing') {
      notice.show(`You’re in line for ${name}: places are drawn by lottery when sales open${event?.salesStartAt ? ` ${saleTime(event.salesStartAt)}` : ''}.`, 'success');
    } else if (phase === 'admitted' && queue.admissionExpiresAt) {
      notice.show(`It’s your turn for ${name}: book within ${durationText(Math.max(0, Math.round((Date.parse(queue.admissionExpiresAt) - clock.now()) / 1000)))}.`, 'success');
    } else if (queue.position !== null) notice.show(`You’re number ${queue.position} in line for ${name}.`, 'success');
  }

  async function join(eventId: number): Promise<void> {
    const queue = await write(eventId, async () => (await api.joinQueue(eventId)).queue, 'Joining the line failed.');
    if (queue) toldJoined(eventId, queue);
  }

  async function leave(eventId: number): Promise<void> {
    const left = await write(eventId, async () => (await api.leaveQueue(eventId)).queue, 'Leaving the line failed.');
    if (left === null) notice.show(`You left the line for ${eventsView.nameOf(eventId)}.`, 'info');
  }

  /** A new turn after one ran out: out of the line, then in at its back. */
  async function rejoin(eventId: number): Promise<void> {
    const queue = await write(
      eventId,
      async () => {
        await api.leaveQueue(eventId);
        return (await api.joinQueue(eventId)).queue;
      },
      'Rejoining the line failed.',
    );
    if (queue) toldJoined(eventId, queue);
  }

  return {
    /** A line panel on every listed event that has a waiting room (after the event cards are drawn). */
    render(events: PublicEvent[]): void {
      for (const recheck of rechecks.values()) clearTimeout(recheck.timer);
      rechecks.clear();
      const entries = events.flatMap((event) => {
        const slot = event.queueRatePerMinute === null ? null : eventsView.queueSlot(event.id);
        return slot ? [{ event, slot }] : [];
      });
      view.render(entries);
    },
    /** Reads the caller's place in every line shown (signed in, back online, the page looked at again). */
    async refresh(): Promise<void> {
      await Promise.all(view.eventIds().map((eventId) => read(eventId)));
    },
    /** Where a line stands now, from the live connection. */
    heard(progress: LineProgress): void {
      const state = stateOf(progress.eventId);
      if (!state) return;
      const phaseBefore = phaseOf(state);
      show(progress.eventId, {});
      const now = stateOf(progress.eventId);
      // The lottery has run (ticket 1 is admitted at once): this caller's ticket is drawn.
      const drawn = phaseBefore === 'drawing' && progress.servingThrough > 0;
      // The turn came: the answer says until when.
      const turnCame = phaseBefore === 'waiting' && now !== undefined && phaseOf(now) === 'admitted';
      if (drawn || turnCame) void read(progress.eventId);
    },
    /**
     * The words for a booking or hold refused at the sale's gate (SPEC §9), or null when that was
     * not why. A `not_admitted` answer carries the caller's place, which the line then shows.
     */
    refusal(error: unknown): string | null {
      if (!(error instanceof ApiError)) return null;
      if (error.code === 'sales_not_started') {
        const opensAt = error.fields.salesStartAt;
        return typeof opensAt === 'string' ? `Sales have not started: they open ${saleTime(opensAt)}.` : error.message;
      }
      if (error.code !== 'not_admitted') return null;
      const queue = error.fields.queue;
      if (!isQueueEntry(queue)) return error.message;
      answered(queue.eventId, nextRequest(queue.eventId), queue);
      if (queue.status === 'expired') return 'Your turn to book has ended: rejoin the line for a new one.';
      if (queue.status === 'waiting' && queue.position !== null) return `Not your turn yet: you are number ${queue.position} in line.`;
      if (queue.status === 'waiting') return 'Not your turn yet: places are drawn when sales open.';
      return error.message;
    },
    /** Signed out: no line is shown, nothing ticks or waits. */
    clear(): void {
      for (const recheck of rechecks.values()) clearTimeout(recheck.timer);
      rechecks.clear();
      view.clear();
    },
  };
}
