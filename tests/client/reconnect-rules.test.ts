import { expect, test } from 'bun:test';
import { reconnectDelayMs } from '../../src/client/backoff';
import { createSeatVersions } from '../../src/client/seat-versions';

/** The client's two pure rules: how long to wait before reconnecting, and which seat versions are news. */

test('backoff: full jitter under a ceiling that doubles per attempt and stops at the cap', () => {
  const settings = { baseMs: 100, capMs: 1000 };
  const almostOne = () => 0.999_999;
  expect([0, 1, 2, 3, 4, 10, 1000].map((attempt) => reconnectDelayMs(attempt, settings, almostOne))).toEqual([99, 199, 399, 799, 999, 999, 999]);
  expect(reconnectDelayMs(5, settings, () => 0)).toBe(0);
  expect(reconnectDelayMs(2, settings, () => 0.5)).toBe(200);
});

test('seat versions: an update at or below the last version seen is dropped', () => {
  const versions = createSeatVersions();
  const state = (version: number, availableSeats = 50 - version) => ({ eventId: 1, availableSeats, heldSeats: 0, capacity: 50, version });
  expect(versions.accept(state(3), true)).toBe(true);
  expect(versions.accept(state(5), false)).toBe(true);
  expect(versions.accept(state(4), false)).toBe(false);
  expect(versions.accept(state(5), false)).toBe(false);
  expect(versions.accept(state(5), true)).toBe(false);
  expect(versions.get(1)).toEqual(state(5));
  expect(versions.accept(state(6), false)).toBe(true);
});

test('seat versions: the first snapshot on a new connection is the truth even when the database went back', () => {
  const versions = createSeatVersions();
  const state = (version: number) => ({ eventId: 7, availableSeats: 10, heldSeats: 0, capacity: 10, version });
  versions.accept(state(9), true);
  versions.expectSnapshots([7]);
  expect(versions.accept(state(9), true)).toBe(false);
  versions.expectSnapshots([7]);
  expect(versions.accept(state(2), true)).toBe(true);
  expect(versions.get(7)?.version).toBe(2);
  // Only the first snapshot: after it, the usual rule again.
  expect(versions.accept(state(1), true)).toBe(false);
  versions.forget(7);
  expect(versions.accept(state(1), false)).toBe(true);
});
