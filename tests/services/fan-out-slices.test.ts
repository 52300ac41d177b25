import { describe, expect, test } from 'bun:test';
import { createFanOutSlices, sliceCountFor, sliceOf } from '../../src/services/fan-out-slices';
import type { SeatChange } from '../../src/services/seat-feed';

/** The slices of one event against a recording publisher (Bun's `server.publish` is what is stood in for). */

const change = (version: number): SeatChange => ({ eventId: 7, kind: 'booking_created', availableSeats: 100 - version, heldSeats: 0, capacity: 100, version });
const state = (version: number) => ({ eventId: 7, availableSeats: 100 - version, heldSeats: 0, capacity: 100, version });

/** One event-loop turn: planned turns run in `setImmediate`. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Slices at state 1 with `subscribersPerSlice` watchers in each of `joined` (default: every slice). */
function recorded(options: { coalesceMs: number; socketsPerTurn?: number; subscribersPerSlice?: number; joined?: number[] }) {
  const published: { slice: number; version: number; at: number }[] = [];
  const count = sliceCountFor(options.coalesceMs);
  /** Sockets per slice's topic, as Bun would count them. */
  const subscribers: number[] = new Array(count).fill(0);
  const join = (slice: number) => (subscribers[slice]! += 1);
  const slices = createFanOutSlices({
    eventId: 7,
    publisher: {
      publish(topic, data) {
        published.push({ slice: Number(topic.split('/')[1]), version: JSON.parse(data).version, at: performance.now() });
        return 1;
      },
      subscriberCount: (topic) => subscribers[Number(topic.split('/')[1])]!,
    },
    coalesceMs: options.coalesceMs,
    sliceCount: count,
    socketsPerTurn: options.socketsPerTurn,
  });
  slices.begin(state(1));
  for (const slice of options.joined ?? Array.from({ length: count }, (_, index) => index)) {
    for (let i = 0; i < (options.subscribersPerSlice ?? 1); i++) join(slice);
  }
  const versionsOf = (slice: number) => published.filter((entry) => entry.slice === slice).map((entry) => entry.version);
  return { slices, join, published, count, versionsOf };
}

describe('slices', () => {
  test('a client keeps its slice; ids spread evenly; one slice with the window at 0', () => {
    const count = sliceCountFor(50);
    expect(count).toBe(8);
    expect(sliceCountFor(0)).toBe(1);
    expect(sliceOf('17-abcdef', count)).toBe(sliceOf('17-abcdef', count));
    const sizes = new Array(count).fill(0);
    for (let i = 0; i < 10_000; i++) sizes[sliceOf(`${i}-${i.toString(36)}x`, count)] += 1;
    for (const size of sizes) expect(Math.abs(size - 1250)).toBeLessThan(1250 * 0.15);
  });

  test('window 0: every change goes to the one slice, in order; those a few ms apart in one loop turn', async () => {
    const { slices, published } = recorded({ coalesceMs: 0 });
    const firstAt = performance.now();
    for (let version = 2; version <= 4; version++) slices.deliver(change(version));
    await Bun.sleep(1);
    slices.deliver(change(5));
    slices.deliver(change(6));
    // Held together so Bun writes them to each socket in one write, then all in one turn.
    expect(published).toHaveLength(0);
    while (published.length < 5 && performance.now() - firstAt < 1_000) await Bun.sleep(1);
    expect(published.map((entry) => entry.version)).toEqual([2, 3, 4, 5, 6]);
    const times = published.map((entry) => entry.at);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(1);
    expect(published[0]!.at - firstAt).toBeLessThan(100);
    slices.stop();
  });

  test('window 0: a newcomer\'s snapshot sends the held changes first, so none older follows it', () => {
    const { slices, published } = recorded({ coalesceMs: 0 });
    slices.deliver(change(2));
    slices.deliver(change(3));
    expect(slices.snapshotFor(0, state(3))).toEqual(state(3));
    expect(published.map((entry) => entry.version)).toEqual([2, 3]);
    slices.deliver(change(4));
    slices.stop();
    expect(published.map((entry) => entry.version)).toEqual([2, 3]);
  });

  test('a message goes out a turn of sockets at a time: the first slices now, the rest in the next turns', async () => {
    // 5 watchers per slice, 10 sockets a turn: two slices a turn, four turns for eight.
    const { slices, published, count } = recorded({ coalesceMs: 50, socketsPerTurn: 10, subscribersPerSlice: 5 });
    slices.deliver(change(2));
    expect(published).toHaveLength(2);
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    expect(published).toHaveLength(count);
    expect(new Set(published.map((entry) => entry.slice)).size).toBe(count);
    expect(published.every((entry) => entry.version === 2)).toBe(true);
    slices.stop();
  });

  test('a newer change reaches the slices not yet written in the newer state, none gets the older one after it', async () => {
    const { slices, published, count, versionsOf } = recorded({ coalesceMs: 50, socketsPerTurn: 10, subscribersPerSlice: 5 });
    slices.deliver(change(2));
    slices.deliver(change(3));
    for (let turn = 0; turn < 4; turn++) await nextTurn();
    // Two slices got 2 at once; the other six got 3 in the turns after; 3 reaches the first two at their window's end.
    expect(published.filter((entry) => entry.version === 2)).toHaveLength(2);
    expect(published.filter((entry) => entry.version === 3)).toHaveLength(count - 2);
    await Bun.sleep(80);
    for (let slice = 0; slice < count; slice++) expect(versionsOf(slice).at(-1)).toBe(3);
    slices.stop();
  });

  test('a burst: per slice at most one message per window, versions only rising, the last state always sent', async () => {
    const coalesceMs = 30;
    const { slices, published, count, versionsOf } = recorded({ coalesceMs, socketsPerTurn: 10, subscribersPerSlice: 5 });
    for (let version = 2; version <= 40; version++) {
      slices.deliver(change(version));
      await Bun.sleep(3);
    }
    await Bun.sleep(coalesceMs * 3);
    for (let slice = 0; slice < count; slice++) {
      const mine = published.filter((entry) => entry.slice === slice);
      for (let i = 1; i < mine.length; i++) {
        expect(mine[i]!.version).toBeGreaterThan(mine[i - 1]!.version);
        // The window counts from the start of the turn that wrote the slice; the times here are
        // read as each slice is written, later in its turn by up to a pause of the test process.
        expect(mine[i]!.at - mine[i - 1]!.at).toBeGreaterThanOrEqual(coalesceMs - 3);
      }
      expect(versionsOf(slice).at(-1)).toBe(40);
    }
    // The burst of 39 changes took far fewer messages.
    expect(published.length).toBeLessThan(39 * count);
    slices.stop();
  });

  test('empty slices are not written to; a newcomer there gets the newest state as its snapshot', () => {
    const { slices, published } = recorded({ coalesceMs: 50, joined: [3] });
    slices.deliver(change(2));
    expect(published.map((entry) => entry.slice)).toEqual([3]);
    expect(slices.snapshotFor(5, state(1))).toEqual(state(2));
    slices.stop();
  });

  test('a newcomer gets what its slice holds, or the database state at once when the slice is behind it', async () => {
    const { slices, published, count, versionsOf } = recorded({ coalesceMs: 50, socketsPerTurn: 10, subscribersPerSlice: 5 });
    slices.deliver(change(2));
    const written = published.map((entry) => entry.slice);
    const unwritten = Array.from({ length: count }, (_, index) => index).filter((slice) => !written.includes(slice));
    const waiting = unwritten[0]!;
    // Its slice-mates still hold 1 while the rest of the message waits for a turn: so does the newcomer,
    // and the slice's next message (2) is newer than its snapshot.
    expect(slices.snapshotFor(waiting, state(1))).toEqual(state(1));
    // A read that saw 2 may not be answered with 1: the slice is brought to 2 now, before the newcomer joins.
    const other = unwritten[1]!;
    expect(slices.snapshotFor(other, state(2))).toEqual(state(2));
    expect(versionsOf(other)).toEqual([2]);
    for (let turn = 0; turn < 4; turn++) await nextTurn();
    expect(versionsOf(other)).toEqual([2]);
    expect(versionsOf(waiting)).toEqual([2]);
    slices.stop();
  });

  test("a slice out of its window gets a change at once, though another slice's window still runs", async () => {
    const { slices, join, published } = recorded({ coalesceMs: 50, joined: [0] });
    slices.deliver(change(2)); // slice 0 now; its window runs
    slices.deliver(change(3)); // slice 0 waits for its window's end
    // A first watcher in slice 1, whose window never ran: its first change goes at once.
    expect(slices.snapshotFor(1, state(3))).toEqual(state(3));
    join(1);
    slices.deliver(change(4));
    expect(published.map(({ slice, version }) => ({ slice, version }))).toEqual([
      { slice: 0, version: 2 },
      { slice: 1, version: 4 },
    ]);
    await Bun.sleep(70);
    expect(published.at(-1)).toMatchObject({ slice: 0, version: 4 });
    slices.stop();
  });

  test('a window whose end comes late (the loop was blocked) holds the changes read meanwhile for one message, though nothing was pending', async () => {
    const { slices, published } = recorded({ coalesceMs: 30 });
    slices.deliver(change(2)); // every slice current; the window runs on
    // Read in the timer turn in which the late window ends, after it: a model of the poll that follows.
    setTimeout(() => slices.deliver(change(3)), 30);
    setTimeout(() => slices.deliver(change(4)), 30);
    const blockedUntil = Date.now() + 50;
    while (Date.now() < blockedUntil);
    await Bun.sleep(40);
    expect(published.map((entry) => entry.version)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4]);
    slices.stop();
  });

  test('stop cancels what was planned, and nothing is published after it', async () => {
    const { slices, published } = recorded({ coalesceMs: 20, socketsPerTurn: 10, subscribersPerSlice: 5 });
    slices.deliver(change(2));
    slices.deliver(change(3));
    const before = published.length;
    slices.stop();
    slices.deliver(change(4));
    await Bun.sleep(60);
    expect(published).toHaveLength(before);
  });
});
