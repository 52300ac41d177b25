import { createEvent, getEvent, loginDemoUser, bookerTokens, type BenchEvent } from '../api';
import { runBookingLoad } from '../booking-load';
import { createBenchDatabase, type BenchDatabase } from '../database';
import { startBareSaleServer, startSeatwatchServer, startWatchers, type ServerChild } from '../processes';
import { Teardown, waitUntil, type Progress } from '../scenario';
import type { Scenario } from '../scenario';
import { publishTimesByVersion } from '../publish-log';
import { machineCpuShare, sampleMachineCpu, type MachineCpuShare } from '../machine-cpu';
import { isOversold, type SeatAudit } from '../seat-audit';
import { LagHistogram, percentile, round, type SparseLag } from '../stats';
import { formatTable } from '../table';

/**
 * The on-sale spike: W watchers on one event while C bookers sell S seats as fast as they can.
 *
 * Lag, per watcher and per version: from the version's commit to the first message carrying
 * that version or a newer one. The commit time is the database's clock at the end of the booking
 * statement, just before its commit (commit-clock.ts), on PostgreSQL and PGlite alike; "the
 * server heard" is when the booking service handed the committed change to the seat feed, which
 * comes only when the server's event loop gets to the statement's result (the earlier of that
 * and the booker's HTTP response is used). All processes read one clock (clock.ts).
 *
 * Runs once with coalescing off and once at the default 50 ms window, to show what it changes,
 * each time on Seatwatch and on a bare yardstick (bare-sale-server.ts: Bun.serve, the same
 * booking statement on the same driver, the same coalescing rule, every watcher on one topic) —
 * the plainest design on this stack, not a floor — with the same watchers, bookers and clocks,
 * in alternating order.
 *
 * The lag is also split: commit → the server heard, heard → the carrying message
 * handed to `server.publish` (the window, and the loop finishing a fan-out), and publish →
 * receipt (the fan-out of that message to every watcher, which a bare Bun server pays too), with
 * the interval between publishes; and counted whole from when the server heard, as well.
 */

const DEFAULT_COALESCE_MS = 50;

type SaleServer = 'seatwatch' | 'bare';

interface SelloffFigures {
  server: SaleServer;
  coalesceMs: number;
  bookingsPerSec: number;
  lagMsP50: number;
  lagMsP99: number;
  lagMsMax: number;
  /** From when the server heard of each commit. */
  serverLagMsP50: number;
  serverLagMsP99: number;
  serverLagMsMax: number;
  /** From the database's commit to when the server heard of it. */
  commitToHeardMsP50: number;
  commitToHeardMsP99: number;
  heardToPublishMsP50: number;
  heardToPublishMsP99: number;
  publishToReceiptMsP50: number;
  publishToReceiptMsP99: number;
  publishIntervalMsP50: number;
  messagesPerWatcher: number;
  allWatchersFinal: boolean;
  oversold: boolean;
  serverRssMB: number;
  /** The whole machine from the first booking until the final version was published. */
  machineCpu: MachineCpuShare;
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
  /** From the database's clock at the commit, where it was recorded. */
  databaseLag: SparseLag;
}

/** A server about to go on sale: what the watchers connect to and the bookers book. */
interface Sale {
  server: ServerChild;
  event: BenchEvent;
  watchUrl: string;
  tokens: string[];
  finalEvent(): Promise<BenchEvent>;
}

async function openSeatwatchSale(server: ServerChild, seats: number): Promise<Sale> {
  const organizer = await loginDemoUser(server.baseUrl);
  const tokens = await bookerTokens(server.baseUrl);
  const event = await createEvent(server.baseUrl, organizer, seats);
  return { server, event, tokens, watchUrl: `${server.wsBase}/ws/events/${event.id}?token=${organizer}`, finalEvent: () => getEvent(server.baseUrl, event.id) };
}

/** The bare server has no accounts: it books as one user of its own and ignores the token. */
async function openBareSale(server: ServerChild, seats: number): Promise<Sale> {
  const event = await server.request<BenchEvent>('create-event', { seats });
  return { server, event, tokens: ['unchecked'], watchUrl: `${server.wsBase}/ws/events/${event.id}`, finalEvent: () => server.request<BenchEvent>('event', { eventId: event.id }) };
}

async function sellOff(on: SaleServer, watcherCount: number, seats: number, bookers: number, coalesceMs: number, progress: Progress): Promise<SelloffFigures> {
  const teardown = new Teardown();
  const label = `selloff (${on}, window ${coalesceMs} ms)`;
  try {
    const database = teardown.add(await createBenchDatabase(`selloff_${on}_${coalesceMs}`), (db) => db.drop());
    const settings = { databaseUrl: database.url, coalesceMs };
    const server = teardown.add(await (on === 'seatwatch' ? startSeatwatchServer(settings) : startBareSaleServer(settings)), (child) => child.stop());
    const watchers = teardown.add(await startWatchers(watcherCount), (group) => group.stop());
    const { event, tokens, watchUrl, finalEvent } = await (on === 'seatwatch' ? openSeatwatchSale(server, seats) : openBareSale(server, seats));
    await server.request('commit-clock-install');

    progress(`${label}: connecting ${watcherCount} watchers`);
    await watchers.connect(watchUrl, watcherCount);
    await waitUntil(async () => (await server.connections()) >= watcherCount, 30_000, 'the server to count every watcher');
    const finalVersionExpected = event.version + seats;
    await watchers.request('track', { untilVersion: finalVersionExpected });
    await server.request('rss', { gc: true });
    await server.request('reset-peak');
    await server.request('record-publishes');

    progress(`${label}: ${bookers} bookers selling ${seats} seats`);
    const respondedAt = new Map<number, number>();
    const cpuBefore = sampleMachineCpu();
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

    const final = await finalEvent();
    const commits = new Map(await server.request<[number, number][]>('commits', { eventId: event.id }));
    for (const [version, at] of respondedAt) commits.set(version, Math.min(at, commits.get(version) ?? Infinity));
    const databaseCommits = new Map(await server.request<[number, number][]>('commit-clock-read', { eventId: event.id }));
    const commitToHeard = [...databaseCommits].filter(([version]) => commits.has(version)).map(([version, at]) => commits.get(version)! - at);
    const missingDatabaseCommits = [...commits.keys()].filter((version) => !databaseCommits.has(version)).length;

    progress(`${label}: waiting for every watcher to hold version ${final.version}`);
    const waitMs = 30_000 + watcherCount * seats * 0.01;
    await waitUntil(
      async () => (await server.request<{ version: number }>('published-version', { eventId: event.id })).version === final.version,
      waitMs,
      `the server to publish version ${final.version}`,
    );
    const machineCpu = machineCpuShare(cpuBefore, sampleMachineCpu());
    const published = await server.request<[number, number][]>('publishes', { eventId: event.id });
    const publishedAt = publishTimesByVersion(commits, published);
    const heardToPublish = [...publishedAt].map(([version, at]) => at - commits.get(version)!);
    const reports = await watchers.request<WatcherReport>(
      'report',
      { commits: [...commits], publishedAt: [...publishedAt], databaseCommits: [...databaseCommits], finalVersion: final.version, finalSeats: final.availableSeats, waitMs },
      waitMs + 60_000,
    );
    const publishIntervals = published.slice(1).map(([at], index) => at - published[index]![0]);
    const { peakRssMB } = await server.request<{ peakRssMB: number }>('rss');
    const audit = await server.request<SeatAudit>('seat-audit', { eventId: event.id });

    const serverLag = new LagHistogram();
    const fanOut = new LagHistogram();
    const databaseLag = new LagHistogram();
    for (const report of reports) {
      serverLag.merge(report.lag);
      fanOut.merge(report.fanOutLag);
      databaseLag.merge(report.databaseLag);
    }
    const sum = (pick: (report: WatcherReport) => number) => reports.reduce((total, report) => total + pick(report), 0);
    const tracked = sum((report) => report.watchers);
    return {
      server: on,
      coalesceMs,
      bookingsPerSec: load.confirmed / (load.elapsedMs / 1000),
      lagMsP50: databaseLag.percentile(50),
      lagMsP99: databaseLag.percentile(99),
      lagMsMax: databaseLag.maxMs,
      serverLagMsP50: serverLag.percentile(50),
      serverLagMsP99: serverLag.percentile(99),
      serverLagMsMax: serverLag.maxMs,
      commitToHeardMsP50: percentile(commitToHeard, 50),
      commitToHeardMsP99: percentile(commitToHeard, 99),
      heardToPublishMsP50: percentile(heardToPublish, 50),
      heardToPublishMsP99: percentile(heardToPublish, 99),
      publishToReceiptMsP50: fanOut.percentile(50),
      publishToReceiptMsP99: fanOut.percentile(99),
      publishIntervalMsP50: percentile(publishIntervals, 50),
      messagesPerWatcher: sum((report) => report.seatMessages) / tracked,
      allWatchersFinal: tracked === watcherCount && sum((report) => report.endedOnFinal) === watcherCount,
      oversold: isOversold(load.confirmed, seats, audit),
      serverRssMB: peakRssMB,
      machineCpu,
      versionsStrictlyIncrease: sum((report) => report.staleMessages) === 0,
      lagSamples: databaseLag.count,
      missingReceipts: sum((report) => report.missingReceipts) + sum((report) => report.missingCommits) + missingDatabaseCommits,
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
    serverLagMsP50: round(figures.serverLagMsP50),
    serverLagMsP99: round(figures.serverLagMsP99),
    serverLagMsMax: round(figures.serverLagMsMax),
    commitToHeardMsP50: round(figures.commitToHeardMsP50),
    commitToHeardMsP99: round(figures.commitToHeardMsP99),
    heardToPublishMsP50: round(figures.heardToPublishMsP50),
    heardToPublishMsP99: round(figures.heardToPublishMsP99),
    publishToReceiptMsP50: round(figures.publishToReceiptMsP50),
    publishToReceiptMsP99: round(figures.publishToReceiptMsP99),
    publishIntervalMsP50: round(figures.publishIntervalMsP50),
    messagesPerWatcher: round(figures.messagesPerWatcher, 1),
    allWatchersFinal: figures.allWatchersFinal,
    oversold: figures.oversold,
    serverRssMB: round(figures.serverRssMB, 0),
    machineCpuBusyPct: round(figures.machineCpu.busyPct, 1),
    machineCpuSystemPct: round(figures.machineCpu.systemPct, 1),
    versionsStrictlyIncrease: figures.versionsStrictlyIncrease,
    missingReceipts: figures.missingReceipts,
  };
}

/** Seatwatch over the bare yardstick, for the figures a spike is judged by. */
function ratioTo(seatwatch: SelloffFigures, bare: SelloffFigures) {
  const ratio = (pick: (figures: SelloffFigures) => number) => round(pick(seatwatch) / pick(bare), 3);
  return {
    lagMsP50: ratio((figures) => figures.lagMsP50),
    lagMsP99: ratio((figures) => figures.lagMsP99),
    lagMsMax: ratio((figures) => figures.lagMsMax),
    bookingsPerSec: ratio((figures) => figures.bookingsPerSec),
  };
}

export const runSelloff: Scenario = async (options, progress) => {
  const watcherCount = options.n ?? 10_000;
  const seats = options.seats ?? 2_000;
  const bookers = options.bookers ?? options.concurrency ?? 64;
  const windows = options.coalesceMs === undefined ? [0, DEFAULT_COALESCE_MS] : [options.coalesceMs];

  const runs: { seatwatch: SelloffFigures; bare: SelloffFigures }[] = [];
  for (const [index, coalesceMs] of windows.entries()) {
    // Each server goes first once, so what the order does falls on both.
    const order: SaleServer[] = index % 2 === 0 ? ['seatwatch', 'bare'] : ['bare', 'seatwatch'];
    const figures = new Map<SaleServer, SelloffFigures>();
    for (const on of order) figures.set(on, await sellOff(on, watcherCount, seats, bookers, coalesceMs, progress));
    runs.push({ seatwatch: figures.get('seatwatch')!, bare: figures.get('bare')! });
  }
  const withBaseline = (run: (typeof runs)[number]) => ({ ...summary(run.seatwatch), bare: summary(run.bare), ratio: ratioTo(run.seatwatch, run.bare) });

  // The headline is the last window (the default when both ran); the other rides along.
  const headline = runs[runs.length - 1]!;
  const others = runs.slice(0, -1).map(withBaseline);
  const json = {
    scenario: 'selloff',
    watchers: watcherCount,
    seats,
    bookers,
    ...withBaseline(headline),
    ...(others.length > 0 ? { withoutCoalescing: others[0] } : {}),
    databaseKind: headline.seatwatch.databaseKind,
  };
  const figures = runs.flatMap((run) => [run.seatwatch, run.bare]);
  const table = formatTable(
    `selloff: ${watcherCount.toLocaleString('en-US')} watchers, ${seats.toLocaleString('en-US')} seats, ${bookers} bookers (${json.databaseKind})`,
    [
      'server',
      'coalesce window',
      'bookings/s',
      'lag ms p50',
      'lag ms p99',
      'lag ms max',
      'commit→server heard p50 / p99',
      'heard→publish p50 / p99',
      'publish→receipt p50 / p99',
      'ms between publishes p50',
      'lag from server heard p50 / p99 / max',
      'msgs/watcher',
      'all final',
      'oversold',
      'versions increase',
      'server RSS MB',
      'machine CPU busy / kernel %',
    ],
    [
      ...figures.map((run) => [
        run.server === 'seatwatch' ? 'seatwatch' : 'bare Bun.serve, one topic',
        `${run.coalesceMs} ms`,
        run.bookingsPerSec,
        run.lagMsP50,
        run.lagMsP99,
        run.lagMsMax,
        `${round(run.commitToHeardMsP50, 1)} / ${round(run.commitToHeardMsP99, 1)}`,
        `${round(run.heardToPublishMsP50, 1)} / ${round(run.heardToPublishMsP99, 1)}`,
        `${round(run.publishToReceiptMsP50, 1)} / ${round(run.publishToReceiptMsP99, 1)}`,
        round(run.publishIntervalMsP50, 1),
        `${round(run.serverLagMsP50, 1)} / ${round(run.serverLagMsP99, 1)} / ${round(run.serverLagMsMax, 1)}`,
        run.messagesPerWatcher,
        run.allWatchersFinal,
        run.oversold,
        run.versionsStrictlyIncrease,
        run.serverRssMB,
        `${round(run.machineCpu.busyPct, 0)} / ${round(run.machineCpu.systemPct, 0)}`,
      ]),
      ...runs.map((run) => {
        const ratio = ratioTo(run.seatwatch, run.bare);
        return ['ratio seatwatch/bare', `${run.seatwatch.coalesceMs} ms`, ratio.bookingsPerSec, ratio.lagMsP50, ratio.lagMsP99, ratio.lagMsMax, '', '', '', '', '', '', '', '', '', '', ''];
      }),
    ],
  );
  return { json, table };
};
