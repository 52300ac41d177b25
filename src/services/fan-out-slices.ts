import { seatMessageText, seatStateOf, type ReleaseReason, type SeatMessageType, type SeatStateFields } from '../protocol';
import type { SeatChange } from './seat-feed';

/**
 * How an event's seat changes reach its watchers: the watchers are split over a few topics
 * ("slices"), and under a coalescing window (SPEC §3) a message goes out one group of slices per
 * event-loop turn, ~2,000 sockets at a time, instead of to every watcher in one turn. The window
 * is kept per slice: the first change of a quiet spell goes at once, then at most one message per
 * slice per window, always the newest state; versions only increase; the last state is always
 * sent. With the window at 0 every change goes to every slice at once, in order.
 *
 * Why slices: Bun writes what is published during a turn to each subscriber before the loop goes
 * on, and at 10,000 watchers that is ~70–100 ms in which nothing else runs — the results of
 * bookings that committed meanwhile wait unread, and at an on-sale a change waited for the
 * fan-out in progress and then for its own. In slices the loop reads commits between them, and
 * each slice's next message carries the newest state at its turn (docs/performance.md, `selloff`).
 */

const SLICES_UNDER_A_WINDOW = 8;

/** Bun's server: writes to every socket subscribed to a topic, and counts them (so the manager records no second count). */
export interface Publisher {
  publish(topic: string, data: string): number;
  subscriberCount(topic: string): number;
}

/** One of an event's topics; a watcher subscribes to the one of its slice. */
export const sliceTopic = (eventId: number, slice: number) => `event:${eventId}/${slice}`;

/**
 * One topic when slices cannot help: with the window at 0 every change goes to every watcher in
 * one turn anyway. On PGlite too (on a thread of its own, src/db/pglite-thread.ts) a line's
 * progress and its place answers are read between slices instead of waiting out a whole
 * fan-out (docs/decisions.md).
 */
export const sliceCountFor = (coalesceMs: number) => (coalesceMs > 0 ? SLICES_UNDER_A_WINDOW : 1);
/** Sockets written in one loop turn before the rest of a message waits for the next turn. */
const SOCKETS_PER_TURN = 2_000;

/**
 * A window timer firing this late found the loop blocked, and the changes committed meanwhile
 * are still unread in the database connections; the turn waits one timer turn more so they ride
 * in its message instead of each costing a fan-out of its own (docs/decisions.md, "late window").
 */
const LATE_TURN_MS = 10;

/**
 * With the window at 0 every change is sent, but the changes committed within this long of each
 * other go out in one loop turn, so Bun writes them to each socket in one write instead of one
 * write each (docs/decisions.md, "At window 0").
 */
const WINDOW_0_BATCH_MS = 5;

/** A client's slice of every event it watches: fixed by its id, so the counts stay even. */
export function sliceOf(clientId: string, sliceCount: number): number {
  let hash = 0;
  for (let i = 0; i < clientId.length; i++) hash = (Math.imul(hash, 31) + clientId.charCodeAt(i)) | 0;
  return (hash >>> 0) % sliceCount;
}

interface Slice {
  /** The newest state published to this slice (or that its newcomers were given); null before any. */
  sent: SeatStateFields | null;
  /** `performance.now()` of its last message, for the window. */
  sentAt: number;
}

interface FanOutSlicesOptions {
  eventId: number;
  publisher: Publisher;
  /** Counts the messages written, one per watcher (`seatwatch_ws_messages_sent_total`). */
  metrics?: { messagesSent(count: number): void };
  /** 0: every change to every slice in the same turn. */
  coalesceMs: number;
  sliceCount: number;
  socketsPerTurn?: number;
}

export type FanOutSlices = ReturnType<typeof createFanOutSlices>;

export function createFanOutSlices(options: FanOutSlicesOptions) {
  const { eventId, publisher, metrics, coalesceMs, sliceCount } = options;
  const socketsPerTurn = coalesceMs > 0 ? (options.socketsPerTurn ?? SOCKETS_PER_TURN) : Infinity;
  const slices: Slice[] = Array.from({ length: sliceCount }, () => ({ sent: null, sentAt: -Infinity }));
  const topics = slices.map((_, index) => sliceTopic(eventId, index));
  const subscribersOf = (index: number) => publisher.subscriberCount(topics[index]!);
  /** The newest state handed out: to some slice already, or to all in the turns to come. Shared by the slices that hold it, never changed in place. */
  let latest: SeatStateFields | null = null;
  let latestKind: SeatMessageType = 'seat_update';
  let latestReason: ReleaseReason | undefined;
  /** Built when a slice is first sent it: under a window most changes are overtaken before that. */
  let latestMessage: string | null = null;
  let cursor = 0;
  /**
   * A turn planned: in the next loop turn (the rest of a message, or a late window's extra turn),
   * or when a window ends. Only the last may be brought forward by a change.
   */
  let nextTurn: { cancel(): void; atWindowEnd: boolean } | null = null;
  let stopped = false;
  /** Window 0: every change waiting for its batch, in version order. */
  let batch: { state: SeatStateFields; message: string }[] = [];
  let batchTimer: ReturnType<typeof setTimeout> | null = null;

  function sendBatch(): void {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = null;
    const changes = batch;
    batch = [];
    const at = performance.now();
    for (const { state, message } of changes) {
      slices.forEach((slice, index) => {
        slice.sent = state;
        slice.sentAt = at;
        const subscribers = subscribersOf(index);
        if (subscribers === 0) return;
        publisher.publish(topics[index]!, message);
        metrics?.messagesSent(subscribers);
      });
    }
  }

  function sendTo(index: number, at: number): void {
    const slice = slices[index]!;
    const state = latest!;
    slice.sent = state;
    slice.sentAt = at;
    latestMessage ??= seatMessageText(latestKind, state, latestReason);
    publisher.publish(topics[index]!, latestMessage);
    metrics?.messagesSent(subscribersOf(index));
  }

  function schedule(inMs: number): void {
    if (nextTurn || stopped) return;
    if (inMs <= 0) {
      const immediate = setImmediate(turn);
      nextTurn = { cancel: () => clearImmediate(immediate), atWindowEnd: false };
      return;
    }
    const dueAt = performance.now() + inMs;
    let timer = setTimeout(() => {
      if (performance.now() - dueAt <= LATE_TURN_MS) return turn();
      // From here to the extra turn, changes are held, so those read in the coming poll go together.
      planned.atWindowEnd = false;
      timer = setTimeout(turn, 0);
    }, inMs);
    const planned = { cancel: () => clearTimeout(timer), atWindowEnd: true };
    nextTurn = planned;
  }

  /** Sends `latest` to the next slices behind it that are due, until a turn's worth of sockets is written. */
  function turn(): void {
    nextTurn = null;
    if (!latest || stopped) return;
    const now = performance.now();
    let written = 0;
    let moreThisWay = false;
    let nextDueAt = Infinity;
    const from = cursor;
    for (let step = 0; step < slices.length; step++) {
      const index = (from + step) % slices.length;
      const slice = slices[index]!;
      if (slice.sent && slice.sent.version >= latest.version) continue;
      const subscribers = subscribersOf(index);
      // Nobody there to write to; a newcomer is given this state as its snapshot.
      if (subscribers === 0) {
        slice.sent = latest;
        continue;
      }
      if (written >= socketsPerTurn) {
        moreThisWay = true;
        continue;
      }
      const dueAt = slice.sentAt + coalesceMs;
      if (coalesceMs > 0 && now < dueAt) {
        nextDueAt = Math.min(nextDueAt, dueAt);
        continue;
      }
      sendTo(index, now);
      written += subscribers;
      cursor = (index + 1) % slices.length;
    }
    if (moreThisWay) schedule(0);
    else if (nextDueAt < Infinity) schedule(nextDueAt - now);
    // Every slice is current, but the window just sent runs on: its end is still watched, so that
    // if it comes late (the loop was blocked) the changes read meanwhile go out together.
    else if (written > 0 && coalesceMs > 0) schedule(coalesceMs);
  }

  return {
    /** Whether a state is known yet (a snapshot read or a change). */
    started: () => latest !== null,

    /** The first state known (a snapshot read): every slice holds it, nothing is published. */
    begin(state: SeatStateFields): void {
      latest = seatStateOf(state);
      latestMessage = null;
      for (const slice of slices) slice.sent ??= latest;
    },

    /**
     * Hands `change` out, unless it is no newer than what was: to the slices whose window is
     * over, now, a turn's worth at a time; the others at their window's end. The rest of a message
     * still on its way carries it instead of the older state, in the next loop turn as planned (so
     * no turn writes more than its share).
     */
    deliver(change: SeatChange): void {
      if (latest && change.version <= latest.version) return;
      latest = seatStateOf(change);
      latestKind = change.kind;
      latestReason = change.reason;
      latestMessage = null;
      if (coalesceMs === 0) {
        batch.push({ state: latest, message: seatMessageText(change.kind, latest, change.reason) });
        batchTimer ??= setTimeout(sendBatch, WINDOW_0_BATCH_MS);
        return;
      }
      if (nextTurn && !nextTurn.atWindowEnd) return;
      // A slice may be out of its window while another's window still runs: the first change of its quiet spell goes now.
      nextTurn?.cancel();
      turn();
    },

    /**
     * What a newcomer to `slice` is given as its snapshot: what its slice-mates hold, brought up
     * to `atLeast` (the database's state it read) at once when they are behind that, so the
     * slice's next message is newer than the snapshot for all of them.
     */
    snapshotFor(index: number, atLeast: SeatStateFields): SeatStateFields {
      // Held changes go first, so none reaches the newcomer after a snapshot that is newer.
      if (batch.length > 0) sendBatch();
      const slice = slices[index]!;
      if (!slice.sent || slice.sent.version < atLeast.version) {
        if (subscribersOf(index) > 0) sendTo(index, performance.now());
        else slice.sent = latest;
      }
      return { ...slice.sent! };
    },

    /** For good: nothing is published after it, whatever still arrives. */
    stop(): void {
      stopped = true;
      if (batchTimer) clearTimeout(batchTimer);
      batch = [];
      nextTurn?.cancel();
      nextTurn = null;
    },
  };
}
