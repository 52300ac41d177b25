import { createEvent, loginDemoUser, bookerTokens } from '../api';
import { runBookingLoad } from '../booking-load';
import { startChild } from '../child';
import { createBenchDatabase } from '../database';
import { startSeatwatchServer } from '../processes';
import { Teardown, type Scenario } from '../scenario';
import { isOversold, type SeatAudit } from '../seat-audit';
import { percentile, round } from '../stats';
import { formatTable } from '../table';

/**
 * C concurrent clients book one event, one seat per request, until sold_out; then the same
 * booking statement straight on the driver (booking-baseline.ts) on the same kind of database.
 */

const WARMUP_SEATS = 100;
const warmupSeatsFor = (seats: number) => Math.min(WARMUP_SEATS, seats);

export const runBooking: Scenario = async (options, progress) => {
  const concurrency = options.concurrency ?? options.bookers ?? 64;
  const seats = options.seats ?? 2_000;
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('booking'), (db) => db.drop());

    const server = await startSeatwatchServer({ databaseUrl: database.url });
    const stopServer = teardown.add(server, (child) => child.stop());
    const organizer = await loginDemoUser(server.baseUrl);
    const tokens = await bookerTokens(server.baseUrl);

    progress(`booking: warm-up, then ${concurrency} clients sell ${seats} seats over HTTP`);
    const warmup = await createEvent(server.baseUrl, organizer, warmupSeatsFor(seats), 'Warm-up');
    await runBookingLoad({ baseUrl: server.baseUrl, eventId: warmup.id, tokens, concurrency });
    const event = await createEvent(server.baseUrl, organizer, seats);
    const load = await runBookingLoad({ baseUrl: server.baseUrl, eventId: event.id, tokens, concurrency, deadlineMs: 300_000 });
    if (load.failures > 0) throw new Error(`${load.failures} bookings failed: ${load.firstFailure}`);
    if (load.timedOut) throw new Error('booking load did not sell out in time');
    const audit = await server.request<SeatAudit>('seat-audit', { eventId: event.id });
    const oversold = isOversold(load.confirmed, seats, audit);
    await stopServer.stop();

    progress(`booking: baseline, the same statement on the bare driver (${database.kind})`);
    const baselineChild = teardown.add(startChild('booking-baseline', './booking-baseline.ts'), (child) => child.stop());
    await baselineChild.ready;
    const baseline = await baselineChild.request<{ confirmed: number; latenciesMs: number[]; elapsedMs: number; oversold: boolean }>(
      'run',
      // Seatwatch's booking statement notifies (LISTEN/NOTIFY) on PostgreSQL only, so the baseline's does too.
      { databaseUrl: database.url, concurrency, seats, notify: database.kind === 'postgres', warmupSeats: warmupSeatsFor(seats) },
      300_000,
    );

    const bookingsPerSec = load.confirmed / (load.elapsedMs / 1000);
    const baselineBookingsPerSec = baseline.confirmed / (baseline.elapsedMs / 1000);
    const json = {
      scenario: 'booking',
      concurrency,
      seats,
      bookingsPerSec: round(bookingsPerSec, 1),
      latencyMsP50: round(percentile(load.latenciesMs, 50)),
      latencyMsP99: round(percentile(load.latenciesMs, 99)),
      baselineBookingsPerSec: round(baselineBookingsPerSec, 1),
      baselineLatencyMsP50: round(percentile(baseline.latenciesMs, 50)),
      baselineLatencyMsP99: round(percentile(baseline.latenciesMs, 99)),
      ratio: round(bookingsPerSec / baselineBookingsPerSec, 3),
      oversold: oversold || baseline.oversold,
      confirmed: load.confirmed,
      databaseKind: database.kind,
    };
    const table = formatTable(
      `booking: ${concurrency} clients, ${seats.toLocaleString('en-US')} seats (${database.kind})`,
      ['path', 'bookings/s', 'latency ms p50', 'latency ms p99', 'confirmed', 'oversold'],
      [
        ['seatwatch over HTTP', bookingsPerSec, json.latencyMsP50, json.latencyMsP99, load.confirmed, oversold],
        ['bare driver, same statement', baselineBookingsPerSec, json.baselineLatencyMsP50, json.baselineLatencyMsP99, baseline.confirmed, baseline.oversold],
        ['ratio seatwatch/bare', json.ratio, NaN, NaN, NaN, ''],
      ],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
