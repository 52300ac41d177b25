import { benchClockMs } from './clock';

/**
 * When a server process heard of each version's commit, per event: the earliest time recorded
 * for a version is kept (a server may hear of one change twice, from its statement and its feed).
 */
export function createHeardTimes(): { record(eventId: number, version: number): void; of(eventId: number): [number, number][] } {
  const byEvent = new Map<number, Map<number, number>>();
  return {
    record(eventId, version) {
      const at = benchClockMs();
      let byVersion = byEvent.get(eventId);
      if (!byVersion) byEvent.set(eventId, (byVersion = new Map()));
      const known = byVersion.get(version);
      if (known === undefined || at < known) byVersion.set(version, at);
    },
    of: (eventId) => [...(byEvent.get(eventId) ?? new Map<number, number>()).entries()],
  };
}
