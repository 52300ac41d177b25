import { expect, test } from 'bun:test';

/**
 * Every benchmark scenario, tiny, through `bun run bench … --json`, so none of them can rot.
 * Only shapes and guarantees are asserted (fields present and numeric, no oversell, watchers
 * end on the final state) — never speed, which depends on the machine.
 */

const ARGS = ['--json', '--n', '40', '--m', '3', '--seats', '30', '--bookers', '4', '--concurrency', '4', '--holds', '20'];
const SCENARIOS = ['fanout', 'booking', 'connections', 'selloff', 'slow-consumer', 'holds', 'onsale'];
/** 200 users admitted over 6 s: long enough for some to try booking seconds before their turn. */
const ONSALE_ARGS = ['--json', '--users', '200', '--rate', '2000', '--workers', '1'];

async function runBench(scenarios: string[], args = ARGS): Promise<any[]> {
  const bench = Bun.spawn(['bun', 'run', 'bench', ...scenarios, ...args], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdout: 'pipe',
    stderr: 'pipe',
    env: process.env,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(bench.stdout).text(), new Response(bench.stderr).text(), bench.exited]);
  if (exitCode !== 0) console.error(stderr);
  expect(exitCode).toBe(0);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

function expectNumbers(object: Record<string, unknown>, fields: string[]): void {
  for (const field of fields) {
    expect({ field, type: typeof object[field] }).toEqual({ field, type: 'number' });
    expect(Number.isFinite(object[field] as number)).toBe(true);
  }
}

test(
  'bun run bench: every scenario runs small and reports its SPEC §7 fields',
  async () => {
    // Four bench runs side by side (each starts at most one embedded database at a time); holds
    // mostly waits for its holds to expire, onsale for its line to move.
    const groups = [SCENARIOS.slice(0, 3), SCENARIOS.slice(3, 5), SCENARIOS.slice(5, 6)];
    const outputs = await Promise.all([...groups.map((group) => runBench(group)), runBench(['onsale'], ONSALE_ARGS)]);
    const reports = outputs.flat();
    expect(reports.map((report) => report.scenario)).toEqual(SCENARIOS);
    const [fanout, booking, connections, selloff, slowConsumer, holds, onsale] = reports;

    expect(fanout.n).toBe(40);
    expect(fanout.m).toBe(3);
    for (const side of [fanout.seatwatch, fanout.bare]) expectNumbers(side, ['deliveriesPerSec', 'lastMsP50', 'lastMsP99']);
    expectNumbers(fanout.ratio, ['deliveriesPerSec', 'lastMsP50']);

    expectNumbers(booking, ['concurrency', 'bookingsPerSec', 'latencyMsP50', 'latencyMsP99', 'baselineBookingsPerSec', 'ratio']);
    expect(booking.concurrency).toBe(4);
    expect(booking.confirmed).toBe(30);
    expect(booking.oversold).toBe(false);

    expectNumbers(selloff, ['watchers', 'seats', 'bookers', 'coalesceMs', 'bookingsPerSec', 'lagMsP50', 'lagMsP99', 'lagMsMax', 'messagesPerWatcher', 'serverRssMB']);
    // The lag, split where the server heard of the commit and where the carrying message was published: each part within the whole.
    expectNumbers(selloff, ['serverLagMsP50', 'serverLagMsP99', 'serverLagMsMax', 'heardToPublishMsP50', 'heardToPublishMsP99', 'publishToReceiptMsP50', 'publishToReceiptMsP99', 'publishIntervalMsP50']);
    expect(selloff.publishToReceiptMsP99).toBeLessThanOrEqual(selloff.lagMsMax);
    expect(selloff.heardToPublishMsP99).toBeLessThanOrEqual(selloff.lagMsMax);
    // The lag counts from the database's commit, which the server hears of later, on either database.
    expectNumbers(selloff, ['commitToHeardMsP50', 'commitToHeardMsP99']);
    expect(selloff.commitToHeardMsP50).toBeGreaterThanOrEqual(0);
    expect(selloff.lagMsP50).toBeGreaterThanOrEqual(selloff.serverLagMsP50);
    expect(selloff.lagMsMax).toBeGreaterThanOrEqual(selloff.serverLagMsMax);
    expect(['pglite', 'postgres']).toContain(selloff.databaseKind);
    expect(selloff).toMatchObject({ watchers: 40, seats: 30, bookers: 4, coalesceMs: 50, allWatchersFinal: true, oversold: false, versionsStrictlyIncrease: true });
    expect(selloff.withoutCoalescing).toMatchObject({ coalesceMs: 0, allWatchersFinal: true, oversold: false, versionsStrictlyIncrease: true, messagesPerWatcher: 30 });
    // A window can only merge messages, never add any.
    expect(selloff.messagesPerWatcher).toBeLessThanOrEqual(30);
    // The bare yardstick sells the same seats to the same watchers, under each window, in the same run.
    for (const [run, coalesceMs] of [[selloff, 50], [selloff.withoutCoalescing, 0]] as const) {
      expect(run.bare).toMatchObject({ coalesceMs, allWatchersFinal: true, oversold: false, versionsStrictlyIncrease: true, missingReceipts: 0 });
      expectNumbers(run.bare, ['bookingsPerSec', 'lagMsP50', 'lagMsP99', 'lagMsMax', 'messagesPerWatcher']);
      expect(run.bare.messagesPerWatcher).toBeGreaterThan(0);
      expect(run.bare.messagesPerWatcher).toBeLessThanOrEqual(30);
      expectNumbers(run.ratio, ['lagMsP50', 'lagMsP99', 'lagMsMax', 'bookingsPerSec']);
      // The ratio is of the unrounded figures: within rounding of the reported ones.
      expect(Math.abs(run.ratio.lagMsP99 - run.lagMsP99 / run.bare.lagMsP99)).toBeLessThanOrEqual(0.02 * (run.lagMsP99 / run.bare.lagMsP99) + 0.001);
    }

    expectNumbers(holds, ['holds', 'watchers', 'releaseLagMsP50', 'releaseLagMsP99', 'releaseLagMsMax', 'sweepLagMsP99', 'createHoldsMs', 'expiresAtSpreadMs']);
    // Every hold released once (database, /metrics, the owners' hold_expired), every watcher on the final state.
    expect(holds).toMatchObject({ holds: 20, watchers: 40, allReleased: true, allWatchersFinal: true, oversold: false, expiredInDatabase: 20, expiredCounted: 20, holdExpiredNotices: 20 });
    // A release reaches a watcher after the server made it.
    expect(holds.releaseLagMsMax).toBeGreaterThanOrEqual(holds.sweepLagMsMax);

    expectNumbers(onsale, ['users', 'ratePerMinute', 'admittedPerMinute', 'paceErrorMax', 'inversions', 'progressLagMsP99', 'bookingsWithoutAdmission']);
    // The line's guarantees: every ticket once, strictly in order at the pace, nobody booking
    // before their admission (the control attempts refused), everyone booked once, every socket
    // told the line ran through, and /metrics counting each join and admission once.
    expect(onsale).toMatchObject({
      users: 200,
      ratePerMinute: 2000,
      inversions: 0,
      bookingsWithoutAdmission: 0,
      oversold: false,
      ticketsValid: true,
      booked: 200,
      confirmedInDatabase: 200,
      watchersSawLastTicket: 200,
      progressWentBack: 0,
      progressBeforeDue: 0,
      earlyRefusedAsExpected: true,
      queueJoinedCounted: 200,
      queueAdmittedCounted: 200,
    });
    expect(onsale.earlyBeforeStart).toMatchObject({ attempts: 20, succeeded: 0 });
    expect(onsale.earlyBeforeTurn.attempts).toBeGreaterThan(0);
    expect(onsale.earlyBeforeTurn.succeeded).toBe(0);
    // The pace is the server's schedule (admittedAt), not the machine's speed.
    expect(Math.abs(onsale.admittedPerMinute - 2000)).toBeLessThanOrEqual(20);
    expect(onsale.paceErrorMax).toBeLessThanOrEqual(2);
    // The same line on the bare yardstick: everyone booked and told the end, so its lag is comparable.
    expect(onsale.bare).toMatchObject({ booked: 200, watchersSawLastTicket: 200, oversold: false });
    expectNumbers(onsale.bare, ['progressLagMsP99']);
    expectNumbers(onsale.ratio, ['progressLagMsP99']);

    expectNumbers(connections, ['n', 'rssPerConnectionKB']);
    expect(connections.n).toBe(40);

    expectNumbers(slowConsumer, ['bookings', 'serverRssPeakMB']);
    expect(slowConsumer.bookings).toBe(3);
    expect(slowConsumer.othersFinal).toBe(true);
    // Three small messages are far below the 1 MiB a stalled watcher may have buffered before it is dropped.
    expect(slowConsumer.stalledClientDropped).toBe(false);
  },
  { timeout: 120_000 },
);
