/**
 * When each seat message was handed to `server.publish`, per event: the point that splits a
 * version's lag into the wait before its message went out (commit → publish) and the fan-out
 * of that message to every watcher (publish → receipt).
 */
import type { Publisher } from './publish-turns';

/** A seat message: the only kind published to an event's topics that carries both. */
const SEAT_FIELDS = /"eventId":(\d+).*"version":(\d+)/;

/** Wraps `server.publish`; returns a reader of `[atMs, version]` pairs for one event, in publish order. */
export function recordPublishes(server: Publisher, clock: () => number): (eventId: number) => [number, number][] {
  const byEvent = new Map<number, [number, number][]>();
  const publish = server.publish.bind(server);
  server.publish = (topic, data) => {
    const fields = SEAT_FIELDS.exec(data);
    if (fields) {
      const [eventId, version] = [Number(fields[1]), Number(fields[2])];
      let published = byEvent.get(eventId);
      if (!published) byEvent.set(eventId, (published = []));
      // A message goes to each of the event's topics, possibly over several turns: its first publish counts.
      if (published.at(-1)?.[1] !== version) published.push([clock(), version]);
    }
    return publish(topic, data);
  };
  return (eventId) => byEvent.get(eventId) ?? [];
}

/**
 * For each committed version, when the first message carrying it or a newer one was published
 * (messages of one event go out in increasing version order). Versions never published are left out.
 */
export function publishTimesByVersion(commits: ReadonlyMap<number, number>, published: readonly [number, number][]): Map<number, number> {
  const carriedAt = new Map<number, number>();
  const versions = [...commits.keys()].sort((a, b) => a - b);
  let next = 0;
  for (const version of versions) {
    while (next < published.length && published[next]![1] < version) next += 1;
    if (next === published.length) break;
    carriedAt.set(version, published[next]![0]);
  }
  return carriedAt;
}
