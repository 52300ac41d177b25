import postgres from 'postgres';

export type NotificationHandler = (payload: string) => void;

export interface ListenOptions {
  /** Called every time the listener is (re)connected, after the first time too. */
  onListen?: () => void;
  /** Called once when an established LISTEN connection drops; `onListen` follows once it is back. */
  onListenLost?: () => void;
  /** A reconnect attempt failed; the next one follows after `retryInMs`. */
  onListenRetry?: (failure: { attempt: number; retryInMs: number; error: unknown }) => void;
}

interface Subscription {
  handler: NotificationHandler;
  options: ListenOptions;
}

/**
 * Reconnect delays: the first attempt at once (a killed backend), then doubling up to 2 s,
 * jittered, so watchers catch up within about 2 s of the database being back.
 */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2_000;
/** A reconnect attempt to a server that never answers (a hung network) gives up after this. */
const CONNECT_TIMEOUT_SECONDS = 2;

export function retryDelayMs(attempt: number): number {
  if (attempt === 0) return 0;
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
  // Jitter keeps many processes from reconnecting in lockstep after a database restart.
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}

const quoted = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

/**
 * LISTEN on one dedicated PostgreSQL connection, apart from the query pool. postgres.js's own
 * `listen()` re-listens after a drop too, but tells no one that the connection was lost, and
 * its retry delay grows only on socket errors (a server refusing logins while it starts up is
 * retried within milliseconds, again and again). This one reports the outage, backs off on
 * every failure, and tells each subscriber when it listens again so it can catch up on what it
 * missed.
 */
export function createNotificationListener(url: string, applicationName: string) {
  const subscriptionsByChannel = new Map<string, Set<Subscription>>();
  let state: 'idle' | 'listening' | 'reconnecting' | 'closed' = 'idle';
  let retryTimer: ReturnType<typeof setTimeout> | null = null;

  const options = {
    max: 1,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // The delays are ours (retryDelayMs); postgres.js's own backoff would add up to 20 s to them.
    backoff: () => 0,
    onnotice: () => {},
    connection: { application_name: applicationName },
    onclose: () => connectionLost(),
    // Not in postgres.js's public types, but it is what its own listen() is built on.
    onnotify: (channel: string, payload: string) => {
      for (const subscription of subscriptionsByChannel.get(channel) ?? []) subscription.handler(payload);
    },
  };
  const connection = postgres(url, options as postgres.Options<{}>);

  const everySubscription = () => [...subscriptionsByChannel.values()].flatMap((set) => [...set]);

  function connectionLost(): void {
    // Failed reconnect attempts close the connection too; only the first drop is an outage.
    if (state !== 'listening') return;
    state = 'reconnecting';
    for (const subscription of everySubscription()) subscription.options.onListenLost?.();
    scheduleAttempt(0, retryDelayMs(0));
  }

  function scheduleAttempt(attempt: number, delayMs: number): void {
    retryTimer = setTimeout(() => void relisten(attempt), delayMs);
  }

  async function relisten(attempt: number): Promise<void> {
    retryTimer = null;
    if (state !== 'reconnecting') return;
    try {
      for (const channel of subscriptionsByChannel.keys()) await connection.unsafe(`listen ${quoted(channel)}`);
    } catch (error) {
      if (state !== 'reconnecting') return;
      const next = attempt + 1;
      const retryInMs = retryDelayMs(next);
      for (const subscription of everySubscription()) subscription.options.onListenRetry?.({ attempt: next, retryInMs, error });
      scheduleAttempt(next, retryInMs);
      return;
    }
    if (state !== 'reconnecting') return;
    state = 'listening';
    for (const subscription of everySubscription()) subscription.options.onListen?.();
  }

  return {
    async listen(channel: string, handler: NotificationHandler, listenOptions: ListenOptions = {}): Promise<() => Promise<void>> {
      if (state === 'closed') throw new Error('listener is closed');
      const subscription: Subscription = { handler, options: listenOptions };
      let subscriptions = subscriptionsByChannel.get(channel);
      const firstOnChannel = !subscriptions;
      if (!subscriptions) {
        subscriptions = new Set();
        subscriptionsByChannel.set(channel, subscriptions);
      }
      subscriptions.add(subscription);
      // While reconnecting, the next attempt listens on this channel too.
      if (state !== 'reconnecting') {
        try {
          if (firstOnChannel) await connection.unsafe(`listen ${quoted(channel)}`);
        } catch (error) {
          subscriptions.delete(subscription);
          if (subscriptions.size === 0) subscriptionsByChannel.delete(channel);
          throw error;
        }
        if (state === 'idle') state = 'listening';
        listenOptions.onListen?.();
      }
      return async () => {
        subscriptions.delete(subscription);
        if (subscriptions.size > 0 || subscriptionsByChannel.get(channel) !== subscriptions) return;
        subscriptionsByChannel.delete(channel);
        if (state === 'listening') await connection.unsafe(`unlisten ${quoted(channel)}`).catch(() => {});
      };
    },
    async close(): Promise<void> {
      if (state === 'closed') return;
      state = 'closed';
      if (retryTimer) clearTimeout(retryTimer);
      await connection.end({ timeout: 5 });
    },
  };
}

export type NotificationListener = ReturnType<typeof createNotificationListener>;
