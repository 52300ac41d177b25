/**
 * A load client holding many WebSocket watchers (Bun's own client, so the client costs as
 * little as possible and the numbers are the server's). The runner tells it where to connect
 * and what to track; it reports deliveries (fanout), per-version receipt times (selloff) or when
 * each hold's release arrived (holds).
 * One process holds up to ~19,000 sockets under a 20,000 open-file limit.
 */
import { emitEvent, emitLine, serveCommands } from './child-protocol';
import { benchClockMs } from './clock';
import { numberAfter, typeOf } from './message-fields';
import { LagHistogram } from './stats';

/** Watchers of one server: `fanout` holds one group per server, connected side by side. */
interface FanoutGroup {
  /** Open watchers when deliveries started being counted; 0 = not counting. */
  expected: number;
  deliveries: Map<number, { count: number; lastAt: number }>;
  messages: number;
}

interface Watcher {
  socket: WebSocket;
  group: FanoutGroup;
  groupName: string;
  ready: boolean;
  closed: boolean;
  lastVersion: number;
  lastSeats: number;
  seatMessages: number;
  /** Messages whose version was not above the one before: the protocol forbids them. */
  staleMessages: number;
  /** Version this watcher already held when tracking started. */
  trackedFrom: number;
  /** First receipt (ms after trackingStartedAt) of each tracked version, NaN until received. */
  receipts: Float32Array | null;
  lastHeld: number;
  /** holds: [holds released so far, receipt time] at each message that lowered heldSeats. */
  releaseSteps: number[] | null;
  /** holds: messages whose heldSeats rose while only releases should change it. */
  heldRose: number;
}

let watchers: Watcher[] = [];

const groups = new Map<string, FanoutGroup>();
function groupNamed(name: string): FanoutGroup {
  let group = groups.get(name);
  if (!group) {
    group = { expected: 0, deliveries: new Map(), messages: 0 };
    groups.set(name, group);
  }
  return group;
}

let trackingBase = 0;
let trackingUntil = 0;
let trackingStartedAt = 0;
/** holds: heldSeats when release tracking started; each seat below it is one hold released. */
let releasesFrom = 0;

function onSeatMessage(watcher: Watcher, text: string, at: number): void {
  const version = numberAfter(text, '"version":');
  watcher.seatMessages += 1;
  if (!(version > watcher.lastVersion)) {
    watcher.staleMessages += 1;
    return;
  }
  if (watcher.receipts) {
    const from = Math.max(watcher.lastVersion + 1, trackingBase);
    const to = Math.min(version, trackingUntil);
    const relative = at - trackingStartedAt;
    for (let v = from; v <= to; v++) watcher.receipts[v - trackingBase] = relative;
  }
  const previous = watcher.lastVersion;
  watcher.lastVersion = version;
  watcher.lastSeats = numberAfter(text, '"availableSeats":');
  const held = numberAfter(text, '"heldSeats":');
  if (watcher.releaseSteps) {
    if (held < watcher.lastHeld) watcher.releaseSteps.push(releasesFrom - held, at);
    else if (held > watcher.lastHeld) watcher.heldRose += 1;
  }
  watcher.lastHeld = held;
  const group = watcher.group;
  if (group.expected > 0) {
    group.messages += 1;
    // A version counts as delivered to this watcher once it holds it or a newer one.
    for (let v = Math.max(previous + 1, version - 1000); v <= version; v++) {
      let delivery = group.deliveries.get(v);
      if (!delivery) {
        delivery = { count: 0, lastAt: at };
        group.deliveries.set(v, delivery);
      }
      delivery.count += 1;
      delivery.lastAt = at;
      if (delivery.count === group.expected) {
        emitEvent('delivered', { group: watcher.groupName, version: v, lastAt: delivery.lastAt });
        group.deliveries.delete(v);
      }
    }
  }
}

function openWatcher(url: string, groupName: string, timeoutMs: number): Promise<Watcher> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const watcher: Watcher = {
      socket,
      group: groupNamed(groupName),
      groupName,
      ready: false,
      closed: false,
      lastVersion: 0,
      lastSeats: NaN,
      seatMessages: 0,
      staleMessages: 0,
      trackedFrom: 0,
      receipts: null,
      lastHeld: NaN,
      releaseSteps: null,
      heldRose: 0,
    };
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no snapshot in time'));
    }, timeoutMs);
    socket.onmessage = (event) => {
      const at = benchClockMs();
      const text = event.data as string;
      if (watcher.ready) {
        onSeatMessage(watcher, text, at);
        return;
      }
      const type = typeOf(text);
      if (type === 'subscribed') {
        watcher.ready = true;
        watcher.lastVersion = numberAfter(text, '"version":');
        watcher.lastSeats = numberAfter(text, '"availableSeats":');
        watcher.lastHeld = numberAfter(text, '"heldSeats":');
        clearTimeout(timer);
        resolve(watcher);
      } else if (type === 'error') {
        clearTimeout(timer);
        reject(new Error(text));
      }
    };
    socket.onclose = (event) => {
      watcher.closed = true;
      if (!watcher.ready) {
        clearTimeout(timer);
        reject(new Error(`closed ${event.code} before the snapshot`));
      }
    };
  });
}

async function connect(args: { url: string; count: number; group?: string; concurrency?: number; timeoutMs?: number }) {
  const startedAt = benchClockMs();
  const concurrency = args.concurrency ?? 100;
  let started = 0;
  let failed = 0;
  let firstError = '';
  async function lane(): Promise<void> {
    while (started < args.count) {
      started += 1;
      try {
        watchers.push(await openWatcher(args.url, args.group ?? 'default', args.timeoutMs ?? 60_000));
      } catch (error) {
        failed += 1;
        firstError ||= String(error);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, args.count) }, lane));
  return { connected: args.count - failed, failed, firstError, ms: benchClockMs() - startedAt };
}

const openWatchers = (groupName?: string) =>
  watchers.filter((watcher) => watcher.ready && !watcher.closed && (groupName === undefined || watcher.groupName === groupName));

async function closeAll(args: { timeoutMs?: number } = {}) {
  for (const watcher of watchers) if (!watcher.closed) watcher.socket.close();
  const deadline = benchClockMs() + (args.timeoutMs ?? 10_000);
  while (watchers.some((watcher) => !watcher.closed) && benchClockMs() < deadline) await Bun.sleep(20);
  const stillOpen = watchers.filter((watcher) => !watcher.closed).length;
  watchers = [];
  groups.clear();
  return { stillOpen };
}

/** Waits until every open watcher holds at least `version`, or the time is up. */
async function awaitVersion(version: number, timeoutMs: number): Promise<number> {
  const deadline = benchClockMs() + timeoutMs;
  let behind = openWatchers().filter((watcher) => watcher.lastVersion < version).length;
  while (behind > 0 && benchClockMs() < deadline) {
    await Bun.sleep(20);
    behind = openWatchers().filter((watcher) => watcher.lastVersion < version).length;
  }
  return behind;
}

emitLine({ ready: true, pid: process.pid });

await serveCommands(
  {
    connect,
    'close-all': closeAll,
    /** fanout: report each version once every open watcher of the group holds it. */
    'expect-deliveries': (args: { group?: string } = {}) => {
      const name = args.group ?? 'default';
      const group = groupNamed(name);
      group.deliveries.clear();
      group.messages = 0;
      group.expected = openWatchers(name).length;
      return { expected: group.expected };
    },
    /** fanout: seat messages the group received since expect-deliveries. */
    'delivery-count': (args: { group?: string } = {}) => ({ messages: groupNamed(args.group ?? 'default').messages }),
    /** selloff: start recording the first receipt of every version in (current, untilVersion]. */
    track: (args: { untilVersion: number }) => {
      const open = openWatchers();
      trackingBase = open.reduce((lowest, watcher) => Math.min(lowest, watcher.lastVersion), Infinity) + 1;
      if (!Number.isFinite(trackingBase)) trackingBase = 1;
      trackingUntil = args.untilVersion;
      trackingStartedAt = benchClockMs();
      for (const watcher of open) {
        watcher.trackedFrom = watcher.lastVersion;
        watcher.seatMessages = 0;
        watcher.receipts = new Float32Array(Math.max(0, trackingUntil - trackingBase + 1)).fill(NaN);
      }
      return { watchers: open.length, fromVersion: trackingBase };
    },
    /**
     * selloff: once every watcher holds the final version (or time is up), the lag of every
     * (watcher, version) pair from the version's commit time — and from the publish of the
     * message that carried it, and from the database's clock at the commit when there is one —
     * plus what each watcher ended on.
     */
    report: async (args: {
      commits: [number, number][];
      /** selloff only (slow-consumer asks just for the final states). */
      publishedAt?: [number, number][];
      databaseCommits?: [number, number][];
      finalVersion: number;
      finalSeats: number;
      waitMs: number;
    }) => {
      const behind = await awaitVersion(args.finalVersion, args.waitMs);
      const lastVersion = Math.min(args.finalVersion, trackingUntil);
      /**
       * Per tracked version, what turns a receipt (ms after trackingStartedAt) into a lag from that
       * moment: looked up 20 M times, so an array indexed like `receipts`, NaN where unknown.
       */
      const offsetsFrom = (times: [number, number][]) => {
        const offsets = new Float64Array(Math.max(0, trackingUntil - trackingBase + 1)).fill(NaN);
        for (const [version, at] of times) if (version >= trackingBase && version <= trackingUntil) offsets[version - trackingBase] = trackingStartedAt - at;
        return offsets;
      };
      const fromCommit = offsetsFrom(args.commits);
      const fromPublish = offsetsFrom(args.publishedAt ?? []);
      const fromDatabaseCommit = args.databaseCommits?.length ? offsetsFrom(args.databaseCommits) : null;
      const histogram = new LagHistogram();
      const fanOut = new LagHistogram();
      const fromDatabase = new LagHistogram();
      let missingReceipts = 0;
      let missingCommits = 0;
      let seatMessages = 0;
      let staleMessages = 0;
      let endedOnFinal = 0;
      const tracked = watchers.filter((watcher) => watcher.receipts);
      for (const watcher of tracked) {
        seatMessages += watcher.seatMessages;
        staleMessages += watcher.staleMessages;
        if (!watcher.closed && watcher.lastVersion === args.finalVersion && watcher.lastSeats === args.finalSeats) endedOnFinal += 1;
        const receipts = watcher.receipts!;
        for (let index = watcher.trackedFrom + 1 - trackingBase; index <= lastVersion - trackingBase; index++) {
          const commitOffset = fromCommit[index]!;
          const received = receipts[index]!;
          if (Number.isNaN(commitOffset)) missingCommits += 1;
          else if (Number.isNaN(received)) missingReceipts += 1;
          else {
            histogram.add(received + commitOffset);
            const publishOffset = fromPublish[index]!;
            if (!Number.isNaN(publishOffset)) fanOut.add(received + publishOffset);
            if (fromDatabaseCommit && !Number.isNaN(fromDatabaseCommit[index]!)) fromDatabase.add(received + fromDatabaseCommit[index]!);
          }
        }
      }
      return {
        watchers: tracked.length,
        closed: tracked.filter((watcher) => watcher.closed).length,
        behind,
        endedOnFinal,
        seatMessages,
        staleMessages,
        missingReceipts,
        missingCommits,
        lag: histogram.toSparse(),
        fanOutLag: fanOut.toSparse(),
        databaseLag: fromDatabase.toSparse(),
      };
    },
    /**
     * holds: once every watcher holds `version` (all holds made, heldSeats = `heldSeats`), note
     * each later message that lowers heldSeats. Only releases lower it, oldest expiresAt first,
     * so the first message showing k holds gone is the first carrying their release or newer.
     */
    'track-releases': async (args: { version: number; heldSeats: number; timeoutMs: number }) => {
      const behind = await awaitVersion(args.version, args.timeoutMs);
      releasesFrom = args.heldSeats;
      const open = openWatchers();
      for (const watcher of open) {
        watcher.seatMessages = 0;
        watcher.heldRose = 0;
        watcher.releaseSteps = watcher.lastHeld === args.heldSeats ? [] : null;
      }
      return { watchers: open.length, behind, armed: open.filter((watcher) => watcher.releaseSteps).length };
    },
    /**
     * holds: once every watcher holds `finalVersion` (or time is up), the lag of every (watcher,
     * hold) pair from the hold's expiresAt (`expiresAt`, oldest first) to the first message
     * showing it released, and what each watcher ended on.
     */
    'release-report': async (args: { expiresAt: number[]; finalVersion: number; finalSeats: number; finalHeld: number; waitMs: number }) => {
      const behind = await awaitVersion(args.finalVersion, args.waitMs);
      const lag = new LagHistogram();
      let missingReleases = 0;
      let endedOnFinal = 0;
      let seatMessages = 0;
      let heldRose = 0;
      let staleMessages = 0;
      const tracked = watchers.filter((watcher) => watcher.releaseSteps);
      for (const watcher of tracked) {
        const steps = watcher.releaseSteps!;
        let released = 0;
        for (let i = 0; i < steps.length; i += 2) {
          const upTo = Math.min(steps[i]!, args.expiresAt.length);
          for (; released < upTo; released++) lag.add(steps[i + 1]! - args.expiresAt[released]!);
        }
        missingReleases += args.expiresAt.length - released;
        seatMessages += watcher.seatMessages;
        heldRose += watcher.heldRose;
        staleMessages += watcher.staleMessages;
        if (!watcher.closed && watcher.lastVersion === args.finalVersion && watcher.lastSeats === args.finalSeats && watcher.lastHeld === args.finalHeld) endedOnFinal += 1;
      }
      return { watchers: tracked.length, behind, endedOnFinal, missingReleases, seatMessages, heldRose, staleMessages, lag: lag.toSparse() };
    },
  },
  async () => {
    await closeAll({ timeoutMs: 2000 });
    process.exit(0);
  },
);
