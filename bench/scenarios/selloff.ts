import { createEvent, getEvent, loginDemoUser, bookerTokens } from '../api';
import { runBookingLoad } from '../booking-load';
import { createBenchDatabase, type BenchDatabase } from '../database';
import { startSeatwatchServer, startWatchers } from '../processes';
import { Teardown, waitUntil, type Progress } from '../scenario';
import type { Scenario } from '../scenario';
import { publishTimesByVersion } from '../publish-log';
import { isOversold, type SeatAudit } from '../seat-audit';
import { LagHistogram, percentile, round, type SparseLag } from '../stats';
import { formatTable } from '../table';

/**
 * The on-sale spike: W watchers on one event while C bookers sell S seats as fast as they can.
 *
 * Lag, per watcher and per version: from the version's commit to the first message carrying
 * that version or a newer one. The commit time is taken in the server process, at the moment
 * the booking service hands the committed change to the seat feed (right after COMMIT returns,
 * before anything is published); the booker's HTTP response time is a second upper bound and
 * the earlier of the two is used. All processes read one clock (clock.ts).
 *
 * Runs once with coalescing off and once at the default 50 ms window, to show what it changes.
 *
 * The lag is also split at the moment the carrying message was handed to `server.publish`:
 * commit → publish (the window, and the server's event loop being busy) and publish → receipt
 * (the fan-out of that message to every watcher, which a bare Bun server pays too), with the
 * interval between publishes (how long the server spends on each fan-out during the spike).
 */

const DEFAULT_COALESCE_MS = 50;

interface SelloffFigures {
  coalesceMs: number;
  bookingsPerSec: number;
  lagMsP50: number;
  lagMsP99: number;
  lagMsMax: number;
  commitToPublishMsP50: number;
  commitToPublishMsP99: number;
  publishToReceiptMsP50: number;
  publishToReceiptMsP99: number;
  publishIntervalMsP50: number;
  messagesPerWatcher: number;
  allWatchersFinal: boolean;
  oversold: boolean;
  serverRssMB: number;
  versionsStrictlyIncrease: boolean;
  lagSamples: number;
  missingReceipts: number;
  databaseKind: BenchDatabase['kind'];
}

interface WatcherReport {
  watchers: number;
  closed: number;
  behind: number;
  endedOnFinal: number;
  seatMessages: number;
  staleMessages: number;
  missingReceipts: number;
  missingCommits: number;
  lag: SparseLag;
  /** From the publish of the message that carried each version instead of its commit. */
  fanOutLag: SparseLag;
}

async function sellOff(watcherCount: number, seats: number, bookers: number, coalesceMs: number, progress: Progress): Promise<SelloffFigures> {
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase(`selloff_${coalesceMs}`), (db) => db.drop());
    const server = teardown.add(await startSeatwatchServer({ databaseUrl: database.url, coalesceMs }), (child) => child.stop());
    const watchers = teardown.add(await startWatchers(watcherCount), (group) => group.stop());
    const organizer = await loginDemoUser(server.baseUrl);
    const tokens = await bookerTokens(server.baseUrl);
    const event = await createEvent(server.baseUrl, organizer, seats);

    progress(`selloff (window ${coalesceMs} ms): connecting ${watcherCount} watchers`);
    await watchers.connect(`${server.wsBase}/ws/events/${event.id}?token=${organizer}`, watcherCount);
    await waitUntil(async () => (await server.connections()) >= watcherCount, 30_000, 'the server to count every watcher');
    const finalVersionExpected = event.version + seats;
    await watchers.request('track', { untilVersion: finalVersionExpected });
    await server.request('rss', { gc: true });
    await server.request('reset-peak');
    await server.request('record-publishes');

    progress(`selloff (window ${coalesceMs} ms): ${bookers} bookers selling ${seats} seats`);
    const respondedAt = new Map<number, number>();
    const load = await runBookingLoad({
      baseUrl: server.baseUrl,
      eventId: event.id,
      tokens,
      concurrency: bookers,
      deadlineMs: 300_000,
      // One seat per booking, so the version a response stands for follows from availableSeats.
      onBooked: (availableSeats, at) => respondedAt.set(event.version + (event.capacity - availableSeats), at),
    });
    if (load.failures > 0) throw new Error(`${load.failures} bookings failed: ${load.firstFailure}`);
    if (load.timedOut) throw new Error('the sell-off did not finish in time');

    const final = await getEvent(server.baseUrl, event.id);
    const commits = new Map(await server.request<[number, number][]>('commits', { eventId: event.id }));
    for (const [version, at] of respondedAt) commits.set(version, Math.min(at, commits.get(version) ?? Infinity));

    progress(`selloff (window ${coalesceMs} ms): waiting for every watcher to hold version ${final.version}`);
    const waitMs = 30_000 + watcherCount * seats * 0.01;
    let published: [number, number][] = [];
    await waitUntil(
      async () => (published = await server.request<[number, number][]>('publishes', { eventId: event.id })).at(-1)?.[1] === final.version,
      waitMs,
      `the server to publish version ${final.version}`,
    );
    const publishedAt = publishTimesByVersion(commits, published);
    const commitToPublish = [...publishedAt].map(([version, at]) => at - commits.get(version)!);
    const reports = await watchers.request<WatcherReport>(
      'report',
      { commits: [...commits], publishedAt: [...publishedAt], finalVersion: final.version, finalSeats: final.availableSeats, waitMs },
      waitMs + 60_000,
    );
    const publishIntervals = published.slice(1).map(([at], index) => at - published[index]![0]);
    const { peakRssMB } = await server.request<{ peakRssMB: number }>('rss');
    const audit = await server.request<SeatAudit>('seat-audit', { eventId: event.id });

    const lag = new LagHistogram();
    const fanOut = new LagHistogram();
    for (const report of reports) {
      lag.merge(report.lag);
      fanOut.merge(report.fanOutLag);
    }
    const sum = (pick: (report: WatcherReport) => number) => reports.reduce((total, report) => total + pick(report), 0);
    const tracked = sum((report) => report.watchers);
    return {
      coalesceMs,
      bookingsPerSec: load.confirmed / (load.elapsedMs / 1000),
      lagMsP50: lag.percentile(50),
      lagMsP99: lag.percentile(99),
      lagMsMax: lag.maxMs,
      commitToPublishMsP50: percentile(commitToPublish, 50),
      commitToPublishMsP99: percentile(commitToPublish, 99),
      publishToReceiptMsP50: fanOut.percentile(50),
      publishToReceiptMsP99: fanOut.percentile(99),
      publishIntervalMsP50: percentile(publishIntervals, 50),
      messagesPerWatcher: sum((report) => report.seatMessages) / tracked,
      allWatchersFinal: tracked === watcherCount && sum((report) => report.endedOnFinal) === watcherCount,
      oversold: isOversold(load.confirmed, seats, audit),
      serverRssMB: peakRssMB,
      versionsStrictlyIncrease: sum((report) => report.staleMessages) === 0,
      lagSamples: lag.count,
      missingReceipts: sum((report) => report.missingReceipts) + sum((report) => report.missingCommits),
      databaseKind: database.kind,
    };
  } finally {
    await teardown.run();
  }
}

function summary(figures: SelloffFigures) {
  return {
    coalesceMs: figures.coalesceMs,
    bookingsPerSec: round(figures.bookingsPerSec, 1),
    lagMsP50: round(figures.lagMsP50),
    lagMsP99: round(figures.lagMsP99),
    lagMsMax: round(figures.lagMsMax),
    commitToPublishMsP50: round(figures.commitToPublishMsP50),
    commitToPublishMsP99: round(figures.commitToPublishMsP99),
    publishToReceiptMsP50: round(figures.publishToReceiptMsP50),
    publishToReceiptMsP99: round(figures.publishToReceiptMsP99),
    publishIntervalMsP50: round(figures.publishIntervalMsP50),
    messagesPerWatcher: round(figures.messagesPerWatcher, 1),
    allWatchersFinal: figures.allWatchersFinal,
    oversold: figures.oversold,
    serverRssMB: round(figures.serverRssMB, 0),
    versionsStrictlyIncrease: figures.versionsStrictlyIncrease,
    missingReceipts: figures.missingReceipts,
  };
}

export const runSelloff: Scenario = async (options, progress) => {
  const watcherCount = options.n ?? 10_000;
  const seats = options.seats ?? 2_000;
  const bookers = options.bookers ?? options.concurrency ?? 64;
  const windows = options.coalesceMs === undefined ? [0, DEFAULT_COALESCE_MS] : [options.coalesceMs];

  const runs: SelloffFigures[] = [];
  for (const coalesceMs of windows) runs.push(await sellOff(watcherCount, seats, bookers, coalesceMs, progress));

  // The headline is the last run (the default window when both ran); the others ride along.
  const headline = runs[runs.length - 1]!;
  const others = runs.slice(0, -1).map(summary);
  const json = {
    scenario: 'selloff',
    watchers: watcherCount,
    seats,
    bookers,
    ...summary(headline),
    ...(others.length > 0 ? { withoutCoalescing: others[0] } : {}),
    databaseKind: headline.databaseKind,
  };
  const table = formatTable(
    `selloff: ${watcherCount.toLocaleString('en-US')} watchers, ${seats.toLocaleString('en-US')} seats, ${bookers} bookers (${json.databaseKind})`,
    ['coalesce window', 'bookings/s', 'lag ms p50', 'lag ms p99', 'lag ms max', 'commit→publish p50 / p99', 'publish→receipt p50 / p99', 'ms between publishes p50', 'msgs/watcher', 'all final', 'oversold', 'versions increase', 'server RSS MB'],
    runs.map((run) => [
      `${run.coalesceMs} ms`,
      run.bookingsPerSec,
      run.lagMsP50,
      run.lagMsP99,
      run.lagMsMax,
      `${round(run.commitToPublishMsP50, 1)} / ${round(run.commitToPublishMsP99, 1)}`,
      `${round(run.publishToReceiptMsP50, 1)} / ${round(run.publishToReceiptMsP99, 1)}`,
      round(run.publishIntervalMsP50, 1),
      run.messagesPerWatcher,
      run.allWatchersFinal,
      run.oversold,
      run.versionsStrictlyIncrease,
      run.serverRssMB,
    ]),
  );
  return { json, table };
};
