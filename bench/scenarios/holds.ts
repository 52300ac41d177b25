import { apiRequest, bookerTokens, createEvent, getEvent, loginDemoUser, registerUsers, type BenchEvent } from '../api';
import { runBookingLoad } from '../booking-load';
import { benchClockMs } from '../clock';
import { createBenchDatabase } from '../database';
import { startSeatwatchServer, startWatchers } from '../processes';
import { Teardown, waitUntil, type Scenario } from '../scenario';
import { isOversold, type SeatAudit } from '../seat-audit';
import { LagHistogram, percentile, round, type SparseLag } from '../stats';
import { formatTable } from '../table';

/**
 * H holds of one seat on one event, made as fast as the server takes them (64 at a time, 10 per
 * user), so they expire close together; then N watchers on the event; bookers booking it from
 * a second before the first expiry until 1.5 s after the last. The server's TTL leaves time to make every
 * hold first, and its warning goes out halfway, away from the expiry.
 *
 * Release lag, per watcher and hold: from the hold's `expiresAt` (as the server answered it) to
 * the first message carrying its release or a newer version. Only releases lower `heldSeats`
 * once the holds are made, oldest `expiresAt` first, so that is the first message whose
 * heldSeats shows the hold gone. The sweep lag is the same up to when the server heard of the
 * release. Exactly once: the database, the expired counter in /metrics and the owners'
 * `hold_expired` (one socket per owner) each count every hold once.
 */

const HOLDS_PER_USER = 10;
const CREATING_LANES = 64;
/** Seats beyond the holds, so the bookers never sell out (a refused booking would release holds itself). */
const BOOKING_ROOM = 100_000;
/**
 * The TTL: time to make every hold at a floor of the rate they are made at (~570 a second on 2
 * busy cores, one statement each), then to connect the watchers, who connect once the holds are
 * made so that their expiry is what they watch.
 */
const CREATION_RATE_FLOOR = 150;
const CONNECTING_RATE_FLOOR = 400;
const SETUP_SECONDS = 4;
const BOOKING_BEFORE_MS = 1_000;
const BOOKING_AFTER_MS = 1_500;

type HeldEvent = BenchEvent & { heldSeats: number };

interface ReleaseReport {
  watchers: number;
  endedOnFinal: number;
  missingReleases: number;
  seatMessages: number;
  heldRose: number;
  staleMessages: number;
  lag: SparseLag;
}

/** One socket per owner, counting the `hold_expired` each hold gets. */
async function openOwnerSockets(wsBase: string, tokens: string[]) {
  const expiredNotices = new Map<number, number>();
  const sockets = await Promise.all(
    tokens.map(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(`${wsBase}/ws?token=${token}`);
          socket.onmessage = (event) => {
            const message = JSON.parse(String(event.data));
            if (message.type === 'connection_established') resolve(socket);
            else if (message.type === 'hold_expired') expiredNotices.set(message.holdId, (expiredNotices.get(message.holdId) ?? 0) + 1);
          };
          socket.onclose = (event) => reject(new Error(`owner socket closed ${event.code}`));
        }),
    ),
  );
  return { expiredNotices, close: () => sockets.forEach((socket) => socket.close()) };
}

/** The holds, CREATING_LANES at a time: their ids and expiresAt (ms) as answered. */
async function createHolds(baseUrl: string, eventId: number, tokens: string[], count: number) {
  const made: { id: number; expiresAt: number }[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      const token = tokens[Math.floor(next++ / HOLDS_PER_USER)]!;
      const response = await apiRequest(baseUrl, 'POST', '/api/holds', { token, body: { eventId, quantity: 1 } });
      if (response.status !== 201) throw new Error(`hold: HTTP ${response.status} ${JSON.stringify(response.body)}`);
      made.push({ id: response.body.hold.id, expiresAt: Date.parse(response.body.hold.expiresAt) });
    }
  }
  await Promise.all(Array.from({ length: Math.min(CREATING_LANES, count) }, lane));
  return made.sort((a, b) => a.expiresAt - b.expiresAt);
}

async function expiredCounter(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(/^seatwatch_holds_total\{result="expired"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

export const runHolds: Scenario = async (options, progress) => {
  const watcherCount = options.n ?? 10_000;
  const holdCount = options.holds ?? 2_000;
  const bookers = options.bookers ?? options.concurrency ?? 64;
  const holdTtlSeconds = Math.ceil(SETUP_SECONDS + holdCount / CREATION_RATE_FLOOR + watcherCount / CONNECTING_RATE_FLOOR);
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('holds'), (db) => db.drop());
    const server = teardown.add(
      await startSeatwatchServer({ databaseUrl: database.url, holdTtlSeconds, holdWarningSeconds: Math.floor(holdTtlSeconds / 2) }),
      (child) => child.stop(),
    );
    const watchers = teardown.add(await startWatchers(watcherCount), (group) => group.stop());
    const organizer = await loginDemoUser(server.baseUrl);
    const event = await createEvent(server.baseUrl, organizer, holdCount + BOOKING_ROOM);
    const holders = await registerUsers(server.baseUrl, Math.ceil(holdCount / HOLDS_PER_USER));
    const owners = teardown.add(await openOwnerSockets(server.wsBase, holders), async (sockets) => sockets.close());

    progress(`holds: ${holdCount} holds from ${holders.length} users, TTL ${holdTtlSeconds} s`);
    const createdFrom = benchClockMs();
    const held = await createHolds(server.baseUrl, event.id, holders, holdCount);
    const createMs = benchClockMs() - createdFrom;
    const expiresAt = held.map((hold) => hold.expiresAt);
    const [firstExpiry, lastExpiry] = [expiresAt[0]!, expiresAt.at(-1)!];

    progress(`holds: made in ${Math.round(createMs)} ms; connecting ${watcherCount} watchers`);
    await watchers.connect(`${server.wsBase}/ws/events/${event.id}?token=${organizer}`, watcherCount);
    await waitUntil(async () => (await server.connections()) >= watcherCount + holders.length, 30_000, 'the server to count every watcher');
    const made = (await getEvent(server.baseUrl, event.id)) as HeldEvent;
    const armed = await watchers.request<{ watchers: number; armed: number }>('track-releases', { version: made.version, heldSeats: made.heldSeats, timeoutMs: 30_000 });
    if (benchClockMs() >= firstExpiry) throw new Error(`the first hold expired before every watcher was ready (making ${holdCount} holds took ${Math.round(createMs)} ms; TTL ${holdTtlSeconds} s)`);

    progress(`holds: expiring ${new Date(firstExpiry).toISOString()} – ${new Date(lastExpiry).toISOString()}, ${bookers} bookers booking`);
    await Bun.sleep(Math.max(0, firstExpiry - BOOKING_BEFORE_MS - benchClockMs()));
    const load = await runBookingLoad({
      baseUrl: server.baseUrl,
      eventId: event.id,
      tokens: await bookerTokens(server.baseUrl),
      concurrency: bookers,
      shouldStop: () => benchClockMs() > lastExpiry + BOOKING_AFTER_MS,
      deadlineMs: 120_000,
    });
    if (load.failures > 0) throw new Error(`${load.failures} bookings failed: ${load.firstFailure}`);
    if (load.soldOutAnswers > 0) throw new Error('the bookers sold the event out during the expiry');

    const untilLastExpiryMs = Math.max(0, lastExpiry - benchClockMs());
    await waitUntil(async () => ((await getEvent(server.baseUrl, event.id)) as HeldEvent).heldSeats === 0, untilLastExpiryMs + 30_000, 'every hold to come back');
    const final = (await getEvent(server.baseUrl, event.id)) as HeldEvent;
    const waitMs = 30_000;
    const reports = await watchers.request<ReleaseReport>(
      'release-report',
      { expiresAt, finalVersion: final.version, finalSeats: final.availableSeats, finalHeld: final.heldSeats, waitMs },
      waitMs + 60_000,
    );
    await Bun.sleep(200); // the owners' last hold_expired, sent with the last release
    const holdStatuses = new Map(await server.request<[string, number][]>('hold-audit', { eventId: event.id }));
    const expiredCounted = await expiredCounter(server.baseUrl);
    const audit = await server.request<SeatAudit>('seat-audit', { eventId: event.id });

    // When the server heard of each release: hold k (oldest first) went in the first with heldSeats ≤ H − k − 1.
    const heard = new Map<number, { heldSeats: number; at: number }>();
    for (const [version, heldSeats, at] of await server.request<[number, number, number][]>('releases-heard', { eventId: event.id })) {
      if (!heard.has(version) || heard.get(version)!.at > at) heard.set(version, { heldSeats, at });
    }
    const releases = [...heard].sort(([a], [b]) => a - b).map(([, release]) => release);
    const sweepLag: number[] = [];
    for (const [k, expiry] of expiresAt.entries()) {
      const release = releases.find((candidate) => candidate.heldSeats <= holdCount - k - 1);
      if (release) sweepLag.push(release.at - expiry);
    }

    const lag = new LagHistogram();
    for (const report of reports) lag.merge(report.lag);
    const sum = (pick: (report: ReleaseReport) => number) => reports.reduce((total, report) => total + pick(report), 0);
    const notices = [...owners.expiredNotices.values()];
    const noticedOnce = owners.expiredNotices.size === holdCount && held.every((hold) => owners.expiredNotices.get(hold.id) === 1);
    const allReleased = holdStatuses.get('expired') === holdCount && holdStatuses.size === 1 && expiredCounted === holdCount && noticedOnce && final.heldSeats === 0;
    const allWatchersFinal =
      sum((report) => report.watchers) === watcherCount &&
      sum((report) => report.endedOnFinal) === watcherCount &&
      sum((report) => report.missingReleases + report.heldRose + report.staleMessages) === 0;

    const json = {
      scenario: 'holds',
      holds: holdCount,
      watchers: watcherCount,
      releaseLagMsP50: round(lag.percentile(50)),
      releaseLagMsP99: round(lag.percentile(99)),
      releaseLagMsMax: round(lag.maxMs),
      allReleased,
      allWatchersFinal,
      oversold: isOversold(load.confirmed, final.capacity, audit),
      sweepLagMsP50: round(percentile(sweepLag, 50)),
      sweepLagMsP99: round(percentile(sweepLag, 99)),
      sweepLagMsMax: round(Math.max(...sweepLag)),
      releaseMessages: releases.length,
      createHoldsMs: round(createMs, 0),
      expiresAtSpreadMs: lastExpiry - firstExpiry,
      holdTtlSeconds,
      bookers,
      bookingsDuringExpiry: load.confirmed,
      bookingsPerSec: round(load.confirmed / (load.elapsedMs / 1000), 1),
      messagesPerWatcher: round(sum((report) => report.seatMessages) / Math.max(1, sum((report) => report.watchers)), 1),
      expiredInDatabase: holdStatuses.get('expired') ?? 0,
      expiredCounted,
      holdExpiredNotices: notices.reduce((total, count) => total + count, 0),
      watchersArmed: armed.reduce((total, report) => total + report.armed, 0),
      databaseKind: database.kind,
    };
    const table = formatTable(
      `holds: ${holdCount.toLocaleString('en-US')} holds expiring on one event, ${watcherCount.toLocaleString('en-US')} watchers, ${bookers} bookers (${database.kind})`,
      ['release lag ms p50', 'p99', 'max', 'sweep lag ms p50 / p99 / max', 'releases', 'made in ms', 'expiresAt spread ms', 'bookings', 'msgs/watcher', 'all released', 'all final', 'oversold'],
      [
        [
          json.releaseLagMsP50,
          json.releaseLagMsP99,
          json.releaseLagMsMax,
          `${round(json.sweepLagMsP50, 0)} / ${round(json.sweepLagMsP99, 0)} / ${round(json.sweepLagMsMax, 0)}`,
          json.releaseMessages,
          json.createHoldsMs,
          json.expiresAtSpreadMs,
          json.bookingsDuringExpiry,
          json.messagesPerWatcher,
          allReleased,
          allWatchersFinal,
          json.oversold,
        ],
      ],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
