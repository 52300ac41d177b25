import { createEvent, loginDemoUser, metricValue, patchEvent, type BenchEvent } from '../api';
import { admittedPerMinute, countInversions, paceErrorMax } from '../admission-figures';
import { benchClockMs } from '../clock';
import { createBenchDatabase } from '../database';
import { machineCpuShare, sampleMachineCpu } from '../machine-cpu';
import { startBareSaleServer, startLineUsers, startSeatwatchServer, type ServerChild } from '../processes';
import { Teardown, waitUntil, type Progress, type Scenario } from '../scenario';
import { isOversold, type SeatAudit } from '../seat-audit';
import { LagHistogram, percentile, round, type SparseLag } from '../stats';
import { formatTable } from '../table';

/**
 * The on-sale waiting room (SPEC §9): U users, each with its own account, token and socket,
 * join an event's line before `salesStartAt`, watch it, learn their ticket after the lottery and
 * book one seat as soon as a `servingThrough` they received reaches it, at R admissions a minute.
 * Capacity is U, so nobody is refused for want of seats.
 *
 * The event is created with `salesStartAt` an hour ahead; once every user is in line and
 * watching, the organizer moves it to a few seconds from now, so the sale starts with everyone
 * ready however long joining took. Admission times are the server's own answers (`admittedAt`,
 * the database's clock); each `queue_progress` is timed from when its `servingThrough` was due by
 * the announced pace (salesStartAt + (servingThrough − 1) · 60 s / R) to its receipt. Booking's
 * gate is checked twice: every booking's `createdAt` against its user's `admittedAt`, and control
 * attempts that must be refused — some users book before salesStartAt (409 sales_not_started),
 * some right after learning a ticket whose turn is seconds away (403 not_admitted).
 *
 * With --workers W (PostgreSQL), W server processes share the database, as WORKERS=W runs them,
 * each on its own port; a user watches through one and makes its REST calls through the next,
 * so admission is told by one process and checked by another.
 */

const FAR_AHEAD_MS = 3_600_000;
/** From moving salesStartAt to the sale. */
const LEAD_MS = 3_000;
/** The lottery is drawn within 250 ms of salesStartAt; users ask for their place this long after it. */
const ASK_AFTER_START_MS = 300;
/** Control attempts per phase (before the start, before the turn), at most a tenth of the users. */
const EARLY_ATTEMPTS = 100;
/** A before-the-turn control attempt is made only this long or more before the user's admission. */
const EARLY_MARGIN_MS = 2_000;
const JOIN_LANES = 64;
const TICKET_LANES = 64;
const CONNECT_LANES = 100;
/** After the last admission (or the last ticket learned): a progress interval, its fan-out and the last bookings. */
const BOOKING_GRACE_MS = 10_000;

/** `[index, ticket, admittedAtMs, ticketKnownAtMs, bookingCreatedAtMs, bookedEarly, servingThrough, refusals, open]` (line-users-process.ts). */
type UserRow = [number, number, number | null, number | null, number | null, boolean, number, number, boolean];

interface LineUserOutcome {
  ticket: number;
  admittedAtMs: number | null;
  ticketKnownAtMs: number | null;
  bookingCreatedAtMs: number | null;
  bookedEarly: boolean;
  servingThrough: number;
  refusals: number;
  open: boolean;
}

const outcomeOf = ([, ticket, admittedAtMs, ticketKnownAtMs, bookingCreatedAtMs, bookedEarly, servingThrough, refusals, open]: UserRow): LineUserOutcome => ({
  ticket,
  admittedAtMs,
  ticketKnownAtMs,
  bookingCreatedAtMs,
  bookedEarly,
  servingThrough,
  refusals,
  open,
});

interface UsersReport {
  users: UserRow[];
  progressLag: SparseLag;
  steadyProgressLag: SparseLag;
  midLineProgressLag: SparseLag;
  lastTicketLag: number[];
  progressMessages: number;
  progressWentBack: number;
  progressBeforeDue: number;
  seatMessages: number;
  placeRequestMs: number[];
  bookingRequestMs: number[];
  bookingFailures: number;
  firstFailure: string;
}

interface Lanes {
  done: number;
  failures: number;
  firstError: string;
  ms: number;
}

interface EarlyTally {
  attempts: number;
  succeeded: number;
  answers: Record<string, number>;
}

function mergeTallies(tallies: EarlyTally[]): EarlyTally {
  const answers: Record<string, number> = {};
  for (const tally of tallies) for (const [answer, count] of Object.entries(tally.answers)) answers[answer] = (answers[answer] ?? 0) + count;
  const total = (pick: (tally: EarlyTally) => number) => tallies.reduce((sum, tally) => sum + pick(tally), 0);
  return { attempts: total((tally) => tally.attempts), succeeded: total((tally) => tally.succeeded), answers };
}

const onlyAnswer = (early: EarlyTally, expected: string) => (early.answers[expected] ?? 0) === early.attempts;

function throwOnFailures(results: Lanes[], what: string): void {
  const failures = results.reduce((sum, result) => sum + result.failures, 0);
  if (failures > 0) throw new Error(`${failures} users failed to ${what}: ${results.find((result) => result.firstError)?.firstError}`);
}

/** A line ready to sell through, on Seatwatch or on the bare yardstick. */
interface LineSale {
  servers: ServerChild[];
  eventId: number;
  /** `[userId, token]` per user. */
  accounts: [number, string][];
  /** Announces salesStartAt at about `atMs`; the start as the server answered it. */
  start(atMs: number): Promise<number>;
}

async function openSeatwatchLine(teardown: Teardown, databaseUrl: string, userCount: number, ratePerMinute: number, workers: number): Promise<LineSale> {
  const servers: ServerChild[] = [];
  // One after the other: each migrates and seeds the database as it starts.
  for (let i = 0; i < workers; i++) servers.push(teardown.add(await startSeatwatchServer({ databaseUrl }), (child) => child.stop()));
  const first = servers[0]!;
  const organizer = await loginDemoUser(first.baseUrl);
  const event = await createEvent(first.baseUrl, organizer, userCount, 'Bench on-sale', {
    salesStartAt: new Date(Date.now() + FAR_AHEAD_MS).toISOString(),
    queueRatePerMinute: ratePerMinute,
  });
  return {
    servers,
    eventId: event.id,
    accounts: await first.request<[number, string][]>('create-users', { count: userCount, label: 'fan' }, 300_000),
    start: async (atMs) => Date.parse(String((await patchEvent(first.baseUrl, organizer, event.id, { salesStartAt: new Date(atMs).toISOString() })).salesStartAt)),
  };
}

async function openBareLine(teardown: Teardown, databaseUrl: string, userCount: number, ratePerMinute: number): Promise<LineSale> {
  const server = teardown.add(await startBareSaleServer({ databaseUrl }), (child) => child.stop());
  const event = await server.request<BenchEvent>('create-event', { seats: userCount });
  await server.request('open-line', { eventId: event.id, ratePerMinute });
  return {
    servers: [server],
    eventId: event.id,
    accounts: await server.request<[number, string][]>('create-line-users', { count: userCount }, 300_000),
    start: async (atMs) => {
      await server.request('start-line', { salesStartAtMs: atMs });
      return atMs;
    },
  };
}

/** Every user joins, watches, learns its place and books when its turn is told: the figures of one sale. */
async function sellThroughLine(sale: LineSale, teardown: Teardown, userCount: number, ratePerMinute: number, label: string, progress: Progress) {
  const { servers, eventId } = sale;
  const workers = servers.length;
  const stepMs = 60_000 / ratePerMinute;
  const earlyPerPhase = Math.min(EARLY_ATTEMPTS, Math.ceil(userCount / 10));
  const players = await startLineUsers(userCount);
  teardown.add(players, (children) => Promise.all(children.map((child) => child.stop())));
  const shares = players.map((): [number, number, string, string, string][] => []);
  for (const [index, [userId, token]] of sale.accounts.entries()) {
    shares[index % players.length]!.push([index, userId, token, servers[(index + 1) % workers]!.baseUrl, servers[index % workers]!.wsBase]);
  }
  const each = <T>(cmd: string, args: (index: number) => unknown, timeoutMs = 300_000) =>
    Promise.all(players.map((child, index) => child.request<T>(cmd, args(index), timeoutMs)));
  const perPlayer = (total: number) => (index: number) => Math.floor(total / players.length) + (index < total % players.length ? 1 : 0);
  await each('load', (index) => ({ eventId, users: shares[index] }), 60_000);

  progress(`${label}: ${userCount} users joining the line`);
  const joinFrom = benchClockMs();
  throwOnFailures(await each<Lanes>('join', () => ({ lanes: Math.ceil(JOIN_LANES / players.length) })), 'join');
  const joinMs = benchClockMs() - joinFrom;
  const beforeStart = mergeTallies(await each<EarlyTally>('book-before-start', (index) => ({ count: perPlayer(earlyPerPhase)(index) })));

  progress(`${label}: joined in ${Math.round(joinMs)} ms; connecting ${userCount} sockets`);
  const connectFrom = benchClockMs();
  throwOnFailures(await each<Lanes>('connect', () => ({ lanes: CONNECT_LANES, timeoutMs: 60_000 })), 'connect');
  const connectMs = benchClockMs() - connectFrom;
  const connections = async () => (await Promise.all(servers.map((server) => server.connections()))).reduce((sum, count) => sum + count, 0);
  await waitUntil(async () => (await connections()) >= userCount, 30_000, 'the servers to count every socket');

  const salesStartAtMs = await sale.start(benchClockMs() + LEAD_MS);
  await each('arm', () => ({ salesStartAtMs, ratePerMinute, lastTicket: userCount }));
  const lastDueMs = salesStartAtMs + (userCount - 1) * stepMs;
  progress(`${label}: sale at ${new Date(salesStartAtMs).toISOString()}, last admission due ${Math.round((lastDueMs - salesStartAtMs) / 1000)} s later`);

  await Bun.sleep(Math.max(0, salesStartAtMs + ASK_AFTER_START_MS - benchClockMs()));
  const cpuBefore = sampleMachineCpu();
  const serverCpu = () => Promise.all(servers.map((server) => server.request<{ user: number; system: number }>('cpu')));
  const serverCpuBefore = await serverCpu();
  const learnFrom = benchClockMs();
  const learned = await each<Lanes & { retries: number; early: EarlyTally }>('learn-tickets', (index) => ({
    lanes: Math.ceil(TICKET_LANES / players.length),
    earlyCount: perPlayer(earlyPerPhase)(index),
    earlyMarginMs: EARLY_MARGIN_MS,
  }));
  throwOnFailures(learned, 'learn their ticket');
  const learnMs = benchClockMs() - learnFrom;

  progress(`${label}: every ticket known ${Math.round(learnMs)} ms after asking; waiting for the bookings`);
  // Users who learned their ticket after their turn book as soon as they learn it.
  const bookingDeadline = Math.max(lastDueMs, benchClockMs()) + BOOKING_GRACE_MS;
  let settled = false;
  while (!settled && benchClockMs() < bookingDeadline) {
    await Bun.sleep(250);
    const statuses = await each<{ booked: number; failed: number }>('status', () => ({}));
    settled = statuses.reduce((sum, status) => sum + status.booked + status.failed, 0) === userCount;
  }

  const machineCpu = machineCpuShare(cpuBefore, sampleMachineCpu());
  const saleMs = benchClockMs() - learnFrom;
  const serverCpuPct = (await serverCpu()).map((after, index) => {
    const before = serverCpuBefore[index]!;
    return round((100 * (after.user + after.system - before.user - before.system)) / 1000 / saleMs, 0);
  });
  const reports = await each<UsersReport>('report', () => ({}));
  const audit = await servers[0]!.request<SeatAudit>('seat-audit', { eventId });
  await Promise.all(players.map((child) => child.stop()));

  const outcomes = reports.flatMap((report) => report.users.map(outcomeOf));
  const placed = outcomes.filter((user) => user.ticket > 0 && user.admittedAtMs !== null);
  const byTicket = [...placed].sort((a, b) => a.ticket - b.ticket);
  const admittedAt = placed.map((user) => user.admittedAtMs!);
  const booked = outcomes.filter((user) => user.bookingCreatedAtMs !== null);
  const bookedBeforeAdmission = (user: LineUserOutcome) =>
    user.bookedEarly || (user.bookingCreatedAtMs !== null && (user.admittedAtMs === null || user.bookingCreatedAtMs < user.admittedAtMs));
  // Those who knew their ticket before their turn: how soon after admission their booking went in.
  const knewInTime = booked.filter((user) => user.admittedAtMs !== null && user.ticketKnownAtMs !== null && user.ticketKnownAtMs <= user.admittedAtMs);
  const bookingLag = knewInTime.map((user) => user.bookingCreatedAtMs! - user.admittedAtMs!);
  const merged = (pick: (report: UsersReport) => SparseLag) => {
    const histogram = new LagHistogram();
    for (const report of reports) histogram.merge(pick(report));
    return histogram;
  };
  const lag = merged((report) => report.progressLag);
  const steadyLag = merged((report) => report.steadyProgressLag);
  const midLineLag = merged((report) => report.midLineProgressLag);
  const sum = (pick: (report: UsersReport) => number) => reports.reduce((total, report) => total + pick(report), 0);
  const placeRequests = reports.flatMap((report) => report.placeRequestMs);
  const bookingRequests = reports.flatMap((report) => report.bookingRequestMs);
  const beforeTurn = mergeTallies(learned.map((result) => result.early));

  return {
    users: userCount,
    ratePerMinute,
    admittedPerMinute: round(admittedPerMinute(admittedAt), 1),
    paceErrorMax: round(paceErrorMax(admittedAt, salesStartAtMs, ratePerMinute)),
    inversions: countInversions(byTicket.map((user) => user.admittedAtMs!)),
    progressLagMsP99: round(lag.percentile(99)),
    bookingsWithoutAdmission: outcomes.filter(bookedBeforeAdmission).length,
    oversold: isOversold(booked.length, userCount, audit),
    progressLagMsP50: round(lag.percentile(50)),
    progressLagMsMax: round(lag.maxMs),
    steadyProgressLagMsP50: round(steadyLag.percentile(50)),
    steadyProgressLagMsP99: round(steadyLag.percentile(99)),
    midLineProgressLagMsP50: round(midLineLag.percentile(50)),
    midLineProgressLagMsP99: round(midLineLag.percentile(99)),
    lastTicketLagMsP50: round(percentile(reports.flatMap((report) => report.lastTicketLag), 50)),
    progressMessagesPerWatcher: round(sum((report) => report.progressMessages) / userCount, 1),
    progressBeforeDue: sum((report) => report.progressBeforeDue),
    progressWentBack: sum((report) => report.progressWentBack),
    watchersSawLastTicket: outcomes.filter((user) => user.servingThrough >= userCount).length,
    socketsClosed: outcomes.filter((user) => !user.open).length,
    ticketsValid: byTicket.length === userCount && byTicket.every((user, index) => user.ticket === index + 1),
    firstAdmissionAfterStartMs: round(admittedAt.reduce((lowest, at) => Math.min(lowest, at), Infinity) - salesStartAtMs),
    booked: booked.length,
    bookingFailures: sum((report) => report.bookingFailures),
    firstBookingFailure: reports.find((report) => report.firstFailure)?.firstFailure ?? '',
    refusedAfterTurnSeen: outcomes.reduce((total, user) => total + user.refusals, 0),
    ticketsKnownLate: placed.filter((user) => user.ticketKnownAtMs === null || user.ticketKnownAtMs > user.admittedAtMs!).length,
    bookingAfterAdmissionMsP50: round(percentile(bookingLag, 50)),
    bookingAfterAdmissionMsP99: round(percentile(bookingLag, 99)),
    earlyBeforeStart: beforeStart,
    earlyBeforeTurn: beforeTurn,
    earlyRefusedAsExpected: onlyAnswer(beforeStart, '409 sales_not_started') && onlyAnswer(beforeTurn, '403 not_admitted'),
    joinsPerSec: round(userCount / (joinMs / 1000), 0),
    connectMs: round(connectMs, 0),
    ticketsLearnedMs: round(learnMs, 0),
    ticketRetries: learned.reduce((total, result) => total + result.retries, 0),
    seatMessagesPerWatcher: round(sum((report) => report.seatMessages) / userCount, 1),
    placeRequestMsP50: round(percentile(placeRequests, 50)),
    placeRequestMsP99: round(percentile(placeRequests, 99)),
    bookingRequestMsP50: round(percentile(bookingRequests, 50)),
    bookingRequestMsP99: round(percentile(bookingRequests, 99)),
    machineCpuBusyPct: round(machineCpu.busyPct, 1),
    serverCpuPct,
    confirmedInDatabase: audit.confirmedSeats,
  };
}

/** The figures of the yardstick's sale the target is read against. */
const yardstickOf = (bare: Awaited<ReturnType<typeof sellThroughLine>>) => ({
  progressLagMsP50: bare.progressLagMsP50,
  progressLagMsP99: bare.progressLagMsP99,
  progressLagMsMax: bare.progressLagMsMax,
  steadyProgressLagMsP99: bare.steadyProgressLagMsP99,
  seatMessagesPerWatcher: bare.seatMessagesPerWatcher,
  machineCpuBusyPct: bare.machineCpuBusyPct,
  watchersSawLastTicket: bare.watchersSawLastTicket,
  booked: bare.booked,
  oversold: bare.oversold,
});

export const runOnsale: Scenario = async (options, progress) => {
  const userCount = options.users ?? options.n ?? 10_000;
  const ratePerMinute = options.rate ?? 6_000;
  const workers = options.workers ?? Number(process.env.WORKERS || 1);
  if (userCount < 2) throw new Error('onsale needs at least 2 users');
  if (ratePerMinute < 1 || ratePerMinute > 100_000) throw new Error('--rate must be 1–100,000 a minute (queueRatePerMinute)');
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers (or WORKERS) must be a whole number from 1');
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('onsale'), (db) => db.drop());
    if (workers > 1 && database.kind !== 'postgres') throw new Error('--workers above 1 needs DATABASE_URL on PostgreSQL');
    const label = `onsale (${ratePerMinute}/min, ${workers} server process${workers > 1 ? 'es' : ''}, ${database.kind})`;
    progress(`${label}: ${userCount} accounts`);
    const sale = await openSeatwatchLine(teardown, database.url, userCount, ratePerMinute, workers);
    const seatwatch = await sellThroughLine(sale, teardown, userCount, ratePerMinute, label, progress);
    const counted = async (name: string) => (await Promise.all(sale.servers.map((server) => metricValue(server.baseUrl, name)))).reduce((total, value) => total + value, 0);
    const [queueJoinedCounted, queueAdmittedCounted] = [await counted('seatwatch_queue_joined_total'), await counted('seatwatch_queue_admitted_total')];
    await Promise.all(sale.servers.map((server) => server.stop()));

    const bareDatabase = teardown.add(await createBenchDatabase('onsale_bare'), (db) => db.drop());
    const bareLabel = `onsale yardstick (bare Bun.serve, ${bareDatabase.kind})`;
    const bareSale = await openBareLine(teardown, bareDatabase.url, userCount, ratePerMinute);
    const bare = yardstickOf(await sellThroughLine(bareSale, teardown, userCount, ratePerMinute, bareLabel, progress));

    const json = {
      scenario: 'onsale',
      ...seatwatch,
      queueJoinedCounted,
      queueAdmittedCounted,
      workers,
      databaseKind: database.kind,
      bare,
      ratio: { progressLagMsP50: round(seatwatch.progressLagMsP50 / bare.progressLagMsP50, 3), progressLagMsP99: round(seatwatch.progressLagMsP99 / bare.progressLagMsP99, 3) },
    };
    const { earlyBeforeStart: beforeStart, earlyBeforeTurn: beforeTurn } = seatwatch;
    const lagCell = (figures: { progressLagMsP50: number; progressLagMsP99: number; progressLagMsMax: number }) =>
      `${round(figures.progressLagMsP50, 0)} / ${round(figures.progressLagMsP99, 0)} / ${round(figures.progressLagMsMax, 0)}`;
    const table = formatTable(
      `onsale: ${userCount.toLocaleString('en-US')} users in line at ${ratePerMinute.toLocaleString('en-US')}/min, ${workers} server process${workers > 1 ? 'es' : ''} (${database.kind})`,
      [
        'admitted/min',
        'pace error max',
        'inversions',
        'progress lag ms p50 / p99 / max',
        'bare Bun: lag p50 / p99 / max',
        'p99 ratio to bare',
        'last ticket',
        'msgs/watcher',
        'booked after admission ms p50 / p99',
        'without admission',
        'early refused',
        'booked',
        'saw last ticket',
        'oversold',
        'joins/s',
        'tickets known in s',
        'machine CPU %',
      ],
      [
        [
          json.admittedPerMinute,
          json.paceErrorMax,
          json.inversions,
          lagCell(json),
          lagCell(bare),
          json.ratio.progressLagMsP99,
          round(json.lastTicketLagMsP50, 0),
          json.progressMessagesPerWatcher,
          `${round(json.bookingAfterAdmissionMsP50, 0)} / ${round(json.bookingAfterAdmissionMsP99, 0)}`,
          json.bookingsWithoutAdmission,
          `${beforeStart.attempts + beforeTurn.attempts - beforeStart.succeeded - beforeTurn.succeeded} of ${beforeStart.attempts + beforeTurn.attempts}`,
          json.booked,
          json.watchersSawLastTicket,
          json.oversold,
          json.joinsPerSec,
          round(json.ticketsLearnedMs / 1000, 1),
          round(json.machineCpuBusyPct, 0),
        ],
      ],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
