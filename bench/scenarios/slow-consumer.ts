import { createEvent, getEvent, loginDemoUser, bookerTokens } from '../api';
import { runBookingLoad } from '../booking-load';
import { createBenchDatabase } from '../database';
import { startSeatwatchServer, startWatchers } from '../processes';
import { Teardown, waitUntil, type Scenario } from '../scenario';
import { round } from '../stats';
import { openStalledSocket } from '../stalled-socket';
import { formatTable } from '../table';

/**
 * One watcher that stops reading, N that keep up, and bookings with coalescing off (every
 * booking is a message) until the server drops the stalled one or M bookings are made. Bun
 * buffers what a socket cannot take up to the backpressure limit set in src/app.ts and then
 * closes it, so the server's memory must stay flat while the other watchers carry on. The
 * kernel absorbs the first few MB (the socket's send and receive buffers), so at ~90 bytes a
 * message the drop comes after some 40,000–60,000 messages.
 */


export const runSlowConsumer: Scenario = async (options, progress) => {
  const watcherCount = options.n ?? 100;
  const maxBookings = options.m ?? 100_000;
  const bookers = options.bookers ?? options.concurrency ?? 64;
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('slow_consumer'), (db) => db.drop());
    const server = teardown.add(await startSeatwatchServer({ databaseUrl: database.url, coalesceMs: 0 }), (child) => child.stop());
    const watchers = teardown.add(await startWatchers(watcherCount), (group) => group.stop());
    const organizer = await loginDemoUser(server.baseUrl);
    const tokens = await bookerTokens(server.baseUrl);
    const event = await createEvent(server.baseUrl, organizer, maxBookings);

    await watchers.connect(`${server.wsBase}/ws/events/${event.id}?token=${organizer}`, watcherCount);
    const stalled = await openStalledSocket('127.0.0.1', server.port, `/ws/events/${event.id}?token=${organizer}`);
    teardown.add(stalled, async (socket) => socket.resumeAndClose());
    await waitUntil(async () => (await server.connections()) === watcherCount + 1, 30_000, 'the server to count every watcher');
    await watchers.request('track', { untilVersion: event.version + maxBookings });
    const { rssMB: startRssMB } = await server.request<{ rssMB: number }>('rss', { gc: true });
    await server.request('reset-peak');

    progress(`slow-consumer: booking until the stalled watcher is dropped (at most ${maxBookings} bookings)`);
    let dropped = false;
    const watchDrop = setInterval(async () => {
      if (!dropped && (await server.connections()) <= watcherCount) dropped = true;
    }, 100);
    const load = await runBookingLoad({
      baseUrl: server.baseUrl,
      eventId: event.id,
      tokens,
      concurrency: bookers,
      maxBookings,
      shouldStop: () => dropped,
      deadlineMs: 240_000,
    });
    clearInterval(watchDrop);
    if (load.failures > 0) throw new Error(`${load.failures} bookings failed: ${load.firstFailure}`);
    dropped ||= (await server.connections()) <= watcherCount;

    const final = await getEvent(server.baseUrl, event.id);
    const reports = await watchers.request<{ watchers: number; endedOnFinal: number; closed: number }>(
      'report',
      { commits: [], finalVersion: final.version, finalSeats: final.availableSeats, waitMs: 60_000 },
      120_000,
    );
    const { peakRssMB } = await server.request<{ peakRssMB: number }>('rss');
    const { rssMB: endRssMB } = await server.request<{ rssMB: number }>('rss', { gc: true });
    const othersFinal = reports.reduce((sum, report) => sum + report.endedOnFinal, 0) === watcherCount;

    const json = {
      scenario: 'slow-consumer',
      watchers: watcherCount,
      bookings: load.confirmed,
      stalledClientDropped: dropped,
      messagesBeforeDrop: load.confirmed,
      othersFinal,
      serverRssStartMB: round(startRssMB, 1),
      serverRssPeakMB: round(peakRssMB, 1),
      serverRssEndMB: round(endRssMB, 1),
      serverRssGrowthMB: round(peakRssMB - startRssMB, 1),
      databaseKind: database.kind,
    };
    const table = formatTable(
      `slow-consumer: 1 stalled + ${watcherCount} reading watchers, coalescing off (${database.kind})`,
      ['bookings (messages)', 'stalled dropped', 'others final', 'RSS start MB', 'RSS peak MB', 'RSS end MB'],
      [[load.confirmed, dropped, othersFinal, startRssMB, peakRssMB, endRssMB]],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
