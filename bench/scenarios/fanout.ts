import { createEvent, loginDemoUser } from '../api';
import type { BenchChild } from '../child';
import { benchClockMs } from '../clock';
import { createBenchDatabase } from '../database';
import { startBareServer, startSeatwatchServer, startWatchers, type ServerChild, type WatcherGroup } from '../processes';
import type { PublishTurns } from '../publish-turns';
import { Teardown, waitUntil, type Scenario } from '../scenario';
import { percentile, round } from '../stats';
import { formatTable } from '../table';

/**
 * N watchers on one Seatwatch event and N on a bare `Bun.serve` + `server.publish` server, all
 * connected at once, and the same M seat messages sent through each, alternating between the two
 * so both see the same background load (the machine is shared). A Seatwatch message is a real
 * booking over HTTP (coalescing off, so every booking is one message); a bare message is a
 * POST /publish. Two phases:
 *  - isolated: one message at a time; time from the HTTP response (SPEC §7) and from sending the
 *    request to the last watcher's receipt. The second matters on PostgreSQL, where the booking's
 *    response can leave in the same event-loop turn as its publish, after the writes to every
 *    watcher, which makes "from the response" look close to zero;
 *  - throughput: bursts of M messages (4 requests in flight), two per server, alternating; the
 *    deliveries counted by the watchers over the time from the first request until every
 *    watcher holds the newest version, and the server's CPU per delivery.
 */

const WARMUP_MESSAGES = 3;
const IN_FLIGHT = 4;
const BURSTS_PER_SERVER = 2;

interface Trigger {
  /** Makes one seat change happen; resolves with its version once the HTTP response is in. */
  (): Promise<{ version: number; respondedAt: number }>;
}

interface FanoutFigures {
  deliveriesPerSec: number;
  lastMsP50: number;
  lastMsP99: number;
  lastMsMax: number;
  /** From sending the request instead: the whole path a user's click takes to the last watcher. */
  requestToLastMsP50: number;
  requestToLastMsP99: number;
  serverCpuUsPerDelivery: number;
  /** The same, for the isolated messages (each delivered before the next is sent). */
  isolatedCpuUsPerDelivery: number;
  /** Bursts: messages published per event-loop turn, i.e. per socket write to each watcher. */
  messagesPerPublishTurn: number;
  connectMs: number;
}

/** Collects one group's `delivered` events from every watcher process; a version is done when all reported. */
function deliveryTracker(watchers: WatcherGroup, group: string) {
  const reports = new Map<number, { processes: number; lastAt: number }>();
  const waiters = new Map<number, () => void>();
  for (const child of watchers.children) {
    child.onEvent((message) => {
      if (message.event !== 'delivered' || message.group !== group) return;
      const report = reports.get(message.version) ?? { processes: 0, lastAt: 0 };
      report.processes += 1;
      report.lastAt = Math.max(report.lastAt, message.lastAt);
      reports.set(message.version, report);
      if (report.processes === watchers.children.length) waiters.get(message.version)?.();
    });
  }
  return {
    /** Time of the last receipt of `version` across all watchers of the group. */
    async lastReceipt(version: number, timeoutMs = 60_000): Promise<number> {
      const done = () => (reports.get(version)?.processes ?? 0) === watchers.children.length;
      if (!done()) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${group}: version ${version} did not reach every watcher within ${timeoutMs} ms`)), timeoutMs);
          waiters.set(version, () => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.delete(version);
      }
      const lastAt = reports.get(version)!.lastAt;
      reports.delete(version);
      return lastAt;
    },
  };
}

async function cpuMicros(server: BenchChild): Promise<number> {
  const usage = await server.request<{ user: number; system: number }>('cpu');
  return usage.user + usage.system;
}

/** One server under test, with its watchers connected as a group of their own. */
class Side {
  readonly lastMs: number[] = [];
  readonly requestToLastMs: number[] = [];
  deliveries = 0;
  burstMs = 0;
  cpuMicros = 0;
  isolatedCpuMicros = 0;
  connectMs = 0;
  readonly burstPublishing: PublishTurns = { publishes: 0, turns: 0 };
  private tracker!: ReturnType<typeof deliveryTracker>;

  constructor(
    readonly label: string,
    private readonly server: ServerChild,
    private readonly watchers: WatcherGroup,
    private readonly watchUrl: string,
    private readonly trigger: Trigger,
  ) {}

  private n = 0;

  async connect(n: number): Promise<void> {
    this.n = n;
    this.connectMs = (await this.watchers.connect(this.watchUrl, n, this.label)).ms;
    await waitUntil(async () => (await this.server.connections()) >= n, 30_000, `${this.label} to count ${n} connections`);
    await this.watchers.request('expect-deliveries', { group: this.label });
    this.tracker = deliveryTracker(this.watchers, this.label);
  }

  /** One message, alone: HTTP response to the last watcher's receipt. */
  async isolated(record = true): Promise<void> {
    const cpuBefore = record ? await cpuMicros(this.server) : 0;
    const sentAt = benchClockMs();
    const { version, respondedAt } = await this.trigger();
    const lastAt = await this.tracker.lastReceipt(version);
    if (!record) return;
    this.lastMs.push(lastAt - respondedAt);
    this.requestToLastMs.push(lastAt - sentAt);
    this.isolatedCpuMicros += (await cpuMicros(this.server)) - cpuBefore;
  }

  async burst(m: number): Promise<void> {
    const deliveryCount = async () => (await this.watchers.request<{ messages: number }>('delivery-count', { group: this.label })).reduce((sum, count) => sum + count.messages, 0);
    const messagesBefore = await deliveryCount();
    // Asked before the CPU is read, so this request's own cost is not charged to the burst.
    const publishingBefore = await this.server.request<PublishTurns>('publish-turns');
    const cpuBefore = await cpuMicros(this.server);
    const startedAt = benchClockMs();
    const versions: number[] = [];
    let remaining = m;
    await Promise.all(
      Array.from({ length: Math.min(IN_FLIGHT, m) }, async () => {
        while (remaining > 0) {
          remaining -= 1;
          versions.push((await this.trigger()).version);
        }
      }),
    );
    // Every watcher holding the newest version means every message has been through.
    const finishedAt = await this.tracker.lastReceipt(Math.max(...versions));
    this.burstMs += finishedAt - startedAt;
    this.cpuMicros += (await cpuMicros(this.server)) - cpuBefore;
    this.deliveries += (await deliveryCount()) - messagesBefore;
    const publishingAfter = await this.server.request<PublishTurns>('publish-turns');
    this.burstPublishing.publishes += publishingAfter.publishes - publishingBefore.publishes;
    this.burstPublishing.turns += publishingAfter.turns - publishingBefore.turns;
  }

  figures(): FanoutFigures {
    return {
      deliveriesPerSec: this.deliveries / (this.burstMs / 1000),
      lastMsP50: percentile(this.lastMs, 50),
      lastMsP99: percentile(this.lastMs, 99),
      lastMsMax: Math.max(...this.lastMs),
      requestToLastMsP50: percentile(this.requestToLastMs, 50),
      requestToLastMsP99: percentile(this.requestToLastMs, 99),
      serverCpuUsPerDelivery: this.cpuMicros / this.deliveries,
      isolatedCpuUsPerDelivery: this.isolatedCpuMicros / (this.lastMs.length * this.n),
      messagesPerPublishTurn: this.burstPublishing.publishes / this.burstPublishing.turns,
      connectMs: this.connectMs,
    };
  }
}

export const runFanout: Scenario = async (options, progress) => {
  const n = options.n ?? 10_000;
  const m = options.m ?? 50;
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('fanout'), (db) => db.drop());
    const seatwatch = teardown.add(await startSeatwatchServer({ databaseUrl: database.url, coalesceMs: 0 }), (child) => child.stop());
    const bare = teardown.add(await startBareServer(), (child) => child.stop());
    const watchers = teardown.add(await startWatchers(n), (group) => group.stop());

    const token = await loginDemoUser(seatwatch.baseUrl);
    const event = await createEvent(seatwatch.baseUrl, token, WARMUP_MESSAGES + (1 + BURSTS_PER_SERVER) * m + 1);

    // The bare server publishes the message Seatwatch sends for a booking, version stamped in order.
    const publishBody = JSON.stringify({ eventId: event.id, capacity: event.capacity });
    const bareTrigger: Trigger = async () => {
      const response = await fetch(`${bare.baseUrl}/publish`, { method: 'POST', body: publishBody });
      const version = Number(await response.text());
      return { version, respondedAt: benchClockMs() };
    };
    const bookingHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const bookingBody = JSON.stringify({ eventId: event.id, quantity: 1 });
    const seatwatchTrigger: Trigger = async () => {
      const response = await fetch(`${seatwatch.baseUrl}/api/bookings`, { method: 'POST', headers: bookingHeaders, body: bookingBody });
      const body = (await response.json()) as { availableSeats: number };
      const respondedAt = benchClockMs();
      if (response.status !== 201) throw new Error(`booking failed: HTTP ${response.status} ${JSON.stringify(body)}`);
      return { version: event.version + (event.capacity - body.availableSeats), respondedAt };
    };

    const bareSide = new Side('bare', bare, watchers, `${bare.wsBase}/ws`, bareTrigger);
    const seatwatchSide = new Side('seatwatch', seatwatch, watchers, `${seatwatch.wsBase}/ws/events/${event.id}?token=${token}`, seatwatchTrigger);
    const sides = [bareSide, seatwatchSide];
    for (const side of sides) {
      progress(`fanout/${side.label}: connecting ${n} watchers`);
      await side.connect(n);
    }
    for (let i = 0; i < WARMUP_MESSAGES; i++) for (const side of sides) await side.isolated(false);
    progress(`fanout: ${m} isolated messages through each server, alternating`);
    for (let i = 0; i < m; i++) for (const side of i % 2 ? sides : [...sides].reverse()) await side.isolated();
    progress(`fanout: ${BURSTS_PER_SERVER} bursts of ${m} messages through each server, alternating`);
    for (let i = 0; i < BURSTS_PER_SERVER; i++) for (const side of i % 2 ? sides : [...sides].reverse()) await side.burst(m);
    await watchers.closeAll();
    const bareFigures = bareSide.figures();
    const seatwatchFigures = seatwatchSide.figures();

    const figures = (f: FanoutFigures) => ({
      deliveriesPerSec: round(f.deliveriesPerSec, 0),
      lastMsP50: round(f.lastMsP50),
      lastMsP99: round(f.lastMsP99),
      lastMsMax: round(f.lastMsMax),
      requestToLastMsP50: round(f.requestToLastMsP50),
      requestToLastMsP99: round(f.requestToLastMsP99),
      serverCpuUsPerDelivery: round(f.serverCpuUsPerDelivery, 3),
      isolatedCpuUsPerDelivery: round(f.isolatedCpuUsPerDelivery, 3),
      messagesPerPublishTurn: round(f.messagesPerPublishTurn),
    });
    const ratio = {
      deliveriesPerSec: round(seatwatchFigures.deliveriesPerSec / bareFigures.deliveriesPerSec, 3),
      lastMsP50: round(seatwatchFigures.lastMsP50 / bareFigures.lastMsP50, 3),
      lastMsP99: round(seatwatchFigures.lastMsP99 / bareFigures.lastMsP99, 3),
      requestToLastMsP50: round(seatwatchFigures.requestToLastMsP50 / bareFigures.requestToLastMsP50, 3),
      requestToLastMsP99: round(seatwatchFigures.requestToLastMsP99 / bareFigures.requestToLastMsP99, 3),
      serverCpuUsPerDelivery: round(seatwatchFigures.serverCpuUsPerDelivery / bareFigures.serverCpuUsPerDelivery, 3),
      messagesPerPublishTurn: round(seatwatchFigures.messagesPerPublishTurn / bareFigures.messagesPerPublishTurn, 3),
    };
    const json = { scenario: 'fanout', n, m, seatwatch: figures(seatwatchFigures), bare: figures(bareFigures), ratio, databaseKind: database.kind };
    const row = (name: string, f: FanoutFigures) => [name, f.deliveriesPerSec, f.lastMsP50, f.lastMsP99, f.lastMsMax, f.requestToLastMsP50, f.requestToLastMsP99, f.serverCpuUsPerDelivery, f.isolatedCpuUsPerDelivery, f.messagesPerPublishTurn, f.connectMs];
    const table = formatTable(
      `fanout: ${n.toLocaleString('en-US')} watchers, ${m} messages (${database.kind})`,
      ['server', 'deliveries/s', 'last ms p50', 'last ms p99', 'last ms max', 'request→last ms p50', 'p99', 'server µs/delivery (bursts)', '(isolated)', 'msgs per publish turn (bursts)', 'connect ms'],
      [
        row('seatwatch', seatwatchFigures),
        row('bare Bun.serve', bareFigures),
        ['ratio seatwatch/bare', ratio.deliveriesPerSec, ratio.lastMsP50, ratio.lastMsP99, NaN, ratio.requestToLastMsP50, ratio.requestToLastMsP99, ratio.serverCpuUsPerDelivery, NaN, ratio.messagesPerPublishTurn, NaN],
      ],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
