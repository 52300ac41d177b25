import {
  parseClientMessage,
  seatStateOf,
  WS_CLOSE,
  WS_LIMITS,
  type ErrorCode,
  type QueueProgress,
  type SeatStateFields,
  type ServerMessage,
} from '../protocol';
import { describeError } from '../lib/error-description';
import type { Logger } from '../lib/logger';
import type { TokenUser, VerifiedToken } from '../lib/tokens';
import { admitMessage, createMessageRate, type MessageRate } from './connection-limits';
import { createFanOutSlices, sliceCountFor, sliceOf, sliceTopic, type FanOutSlices, type Publisher } from './fan-out-slices';
import type { ViewableSeatState } from './event';
import { isHoldNotice, type EventHidden, type FeedChange, type HoldNotice } from './seat-feed';
import { watchTokenExpiry, type TokenExpiry } from './token-expiry';

/**
 * The WebSocket manager: the only holder of sockets. It keeps who is connected (`clients`, and
 * by user in `clientsByUser`, for the messages to one user), who watches what
 * (`subscribersByEvent`, beside which a subscription is recorded only in Bun's topic), and hands
 * each committed seat change from the feed to the event's fan-out (fan-out-slices.ts), which
 * writes it with Bun's native pub/sub. The limits of one connection
 * are connection-limits.ts's, the end of its token token-expiry.ts's (moved by `refresh_token`).
 */

export type { Publisher };

/** The part of Bun's ServerWebSocket the manager uses; tests and benchmarks can read it plainly. */
export interface ManagedSocket {
  /** The socket's own data: the manager notes its client id there, so `clients` is the only index of clients. */
  data: { clientId?: string };
  send(data: string): number;
  close(code?: number, reason?: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

export interface ClientState {
  clientId: string;
  userId: number;
  socket: ManagedSocket;
  /** The event of `/ws/events/:id`, closed 4404 when it goes out of sight; null on `/ws`. */
  openedFor: number | null;
  /** Before the newest token's expiry, `token_expiring`; at it, `token_expired`, then 4401. */
  tokenExpiry: TokenExpiry;
  messageRate: MessageRate;
  closing: boolean;
  /** Messages are answered in the order they came, even when one waits on the database. */
  queue: Promise<void>;
}

/** What a newcomer's snapshot is made of: the seats, and the line's progress when the event has one. */
export type SeatSnapshot = SeatStateFields & { queue?: QueueProgress | null };

export type SeatStateLoader = (eventId: number, userId: number) => Promise<SeatSnapshot | null>;

export interface WebSocketMetrics {
  messagesSent(count: number): void;
}

/** The token check of the upgrade, for `refresh_token`: null for anything but a valid, unexpired token of an existing user. */
export type TokenVerifier = (token: string) => Promise<VerifiedToken | null>;

export interface WebSocketManagerOptions {
  loadSeatState: SeatStateLoader;
  verifyToken: TokenVerifier;
  coalesceMs: number;
  logger: Logger;
  metrics?: WebSocketMetrics;
  now?: () => number;
}

/**
 * What the manager knows of one event while anyone here watches it or is reading its snapshot.
 * Kept during reads too: a change committed after a snapshot read but handled before the read
 * returns would otherwise be dropped for want of watchers, and the newcomer would hold a stale
 * state forever.
 */
interface EventFeedState {
  /** The event's topics, and the newest state handed to them (or given as a snapshot), which orders everything after it. */
  slices: FanOutSlices;
  /** Snapshot reads of this event not yet answered. */
  readsInFlight: number;
  /** Moves to draft heard while tracked: a read that began before one is taken again (withSeatState). */
  hidings: number;
  /** The newest line progress given out (its servingThrough never goes back); null without a waiting room. */
  queue: QueueProgress | null;
}

const CLIENT_ID_SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomSuffix(length = 6): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let suffix = '';
  for (const byte of bytes) suffix += CLIENT_ID_SUFFIX_CHARS[byte % CLIENT_ID_SUFFIX_CHARS.length];
  return suffix;
}

/** A token's `exp` (Unix seconds) as the protocol writes times. */
const isoTime = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export type WebSocketManager = ReturnType<typeof createWebSocketManager>;

export function createWebSocketManager(options: WebSocketManagerOptions) {
  const { loadSeatState, verifyToken, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const coalesceMs = options.coalesceMs;
  const sliceCount = sliceCountFor(coalesceMs);

  const clients = new Map<string, ClientState>();
  const clientsByUser = new Map<number, Set<ClientState>>();
  const subscribersByEvent = new Map<number, Set<string>>();
  const feedByEvent = new Map<number, EventFeedState>();
  let publisher: Publisher | null = null;
  let connectionCounter = 0;

  function send(client: ClientState, message: ServerMessage): void {
    if (client.closing) return;
    client.socket.send(JSON.stringify(message));
    metrics?.messagesSent(1);
  }

  function sendError(client: ClientState, code: ErrorCode, message: string, extra: { eventId?: number | string } = {}): void {
    send(client, { type: 'error', code, message, ...extra });
  }

  function closeClient(client: ClientState, code: number, reason: string): void {
    if (client.closing) return;
    client.closing = true;
    client.socket.close(code, reason);
  }

  /**
   * Queued behind the answers still owed, so on `/ws/events/:id` it follows the greeting; a
   * warning overtaken by a newer token (refreshed meanwhile) is not sent.
   */
  function warnExpiring(client: ClientState, expiresAt: number): void {
    enqueue(client, () => {
      if (client.tokenExpiry.expiresAt === expiresAt) send(client, { type: 'token_expiring', expiresAt: isoTime(expiresAt) });
    });
  }

  function expire(client: ClientState): void {
    sendError(client, 'token_expired', 'Your token has expired; reconnect with a new one');
    closeClient(client, WS_CLOSE.unauthorized, 'token expired');
  }

  /** A socket whose upgrade carried no valid token: one error, then 4401. */
  function rejectUnauthorized(socket: ManagedSocket): void {
    socket.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: 'Missing, invalid or expired token' } satisfies ServerMessage));
    socket.close(WS_CLOSE.unauthorized, 'unauthorized');
  }

  /** `/ws/events/:id` whose `:id` can name no event (`abc`, `0`): one `event_not_found`, then 4404. */
  function rejectEventNotFound(socket: ManagedSocket, requestedId: string): void {
    socket.send(JSON.stringify({ type: 'error', code: 'event_not_found', message: `Event ${requestedId} not found`, eventId: requestedId } satisfies ServerMessage));
    socket.close(WS_CLOSE.eventNotFound, 'event not found');
  }

  function register(socket: ManagedSocket, user: TokenUser, tokenExpiresAt: number, openedFor: number | null = null): ClientState {
    connectionCounter += 1;
    const client: ClientState = {
      clientId: `ws_${connectionCounter}_${randomSuffix()}`,
      userId: user.id,
      socket,
      openedFor,
      tokenExpiry: watchTokenExpiry(tokenExpiresAt, { onExpiring: (expiresAt) => warnExpiring(client, expiresAt), onExpired: () => expire(client) }, now),
      messageRate: createMessageRate(now()),
      closing: false,
      queue: Promise.resolve(),
    };
    clients.set(client.clientId, client);
    let ofUser = clientsByUser.get(user.id);
    if (!ofUser) clientsByUser.set(user.id, (ofUser = new Set()));
    ofUser.add(client);
    socket.data.clientId = client.clientId;
    return client;
  }

  /** `/ws`: greet and wait for subscriptions. */
  function openGeneral(socket: ManagedSocket, user: TokenUser, tokenExpiresAt: number): ClientState {
    const client = register(socket, user, tokenExpiresAt);
    send(client, { type: 'connection_established', clientId: client.clientId, userId: user.id });
    return client;
  }

  /**
   * `/ws/events/:id`: the event must be visible before anything is said; then greet and
   * subscribe, or send one `event_not_found` and close 4404. Registered at once so frames sent
   * meanwhile wait in the client's queue instead of being lost.
   */
  function openForEvent(socket: ManagedSocket, user: TokenUser, tokenExpiresAt: number, eventId: number): Promise<void> {
    const client = register(socket, user, tokenExpiresAt, eventId);
    client.queue = client.queue.then(async () => {
      await withSeatState(eventId, user.id, (snapshot) => {
        if (client.closing) return;
        if (!snapshot) {
          sendError(client, 'event_not_found', `Event ${eventId} not found`, { eventId });
          closeClient(client, WS_CLOSE.eventNotFound, 'event not found');
          return;
        }
        send(client, {
          type: 'connection_established',
          clientId: client.clientId,
          userId: user.id,
          eventId,
          message: `Welcome! You're watching Event #${eventId}`,
        });
        attachSubscription(client, snapshot);
      });
    }).catch((error: unknown) => {
      logger.error('websocket open failed', { clientId: client.clientId, ...describeError(error) });
      closeClient(client, 1011, 'internal error');
    });
    return client.queue;
  }

  /** Attached when the server starts listening, so before any socket can watch an event. */
  function attachedPublisher(): Publisher {
    if (!publisher) throw new Error('no publisher: attachPublisher() comes before the first socket');
    return publisher;
  }

  function feedStateOf(eventId: number): EventFeedState {
    let state = feedByEvent.get(eventId);
    if (!state) {
      state = {
        slices: createFanOutSlices({
          eventId,
          publisher: attachedPublisher(),
          metrics,
          coalesceMs,
          sliceCount,
        }),
        readsInFlight: 0,
        hidings: 0,
        queue: null,
      };
      feedByEvent.set(eventId, state);
    }
    return state;
  }

  /** With no local watchers and no read in flight the cached state could go stale unseen; the next subscriber reads afresh. */
  function releaseFeedIfIdle(eventId: number): void {
    const feed = feedByEvent.get(eventId);
    if (!feed || feed.readsInFlight > 0 || subscribersByEvent.has(eventId)) return;
    feed.slices.stop();
    feedByEvent.delete(eventId);
  }

  /**
   * Reads the event's seat state for `userId` and hands it to `use` while the event is still
   * tracked, so every change handled during the read is either in what was read or already in
   * handed to the event's slices when `use` attaches the subscriber. A move to draft heard during
   * the read may have committed after it, when the event still looked published: the read is
   * taken again, after that commit, so the reader is not attached behind the notice's back.
   */
  async function withSeatState(eventId: number, userId: number, use: (loaded: SeatSnapshot | null) => void): Promise<void> {
    const feed = feedStateOf(eventId);
    feed.readsInFlight += 1;
    try {
      let loaded: SeatSnapshot | null;
      let hidingsBefore: number;
      do {
        hidingsBefore = feed.hidings;
        loaded = await loadSeatState(eventId, userId);
      } while (loaded && feed.hidings !== hidingsBefore);
      use(loaded);
    } finally {
      feed.readsInFlight -= 1;
      if (feedByEvent.get(eventId) === feed) releaseFeedIfIdle(eventId);
    }
  }

  /**
   * Subscribes the socket to its slice of the event's topics and sends the snapshot in one
   * synchronous step, so nothing published can slip between them. The snapshot is what the
   * watchers of its slice hold, never older than what was read from the database; when the
   * database is ahead of what was handed out, everyone is sent it too (each slice when its
   * window allows), so no one stays behind.
   */
  function attachSubscription(client: ClientState, loaded: SeatSnapshot): void {
    if (client.closing) return;
    const eventId = loaded.eventId;
    const feed = feedStateOf(eventId);
    // A read newer than what was handed out goes to everyone (deliver drops it otherwise).
    if (!feed.slices.started()) feed.slices.begin(loaded);
    else feed.slices.deliver({ ...loaded, kind: 'seat_update' });
    const slice = sliceOf(client.clientId, sliceCount);
    const snapshot = feed.slices.snapshotFor(slice, loaded);
    // A repeat subscription re-sends the snapshot; the topic and the map hold it once.
    client.socket.subscribe(sliceTopic(eventId, slice));
    let watchers = subscribersByEvent.get(eventId);
    if (!watchers) {
      watchers = new Set();
      subscribersByEvent.set(eventId, watchers);
    }
    watchers.add(client.clientId);
    // The line as read, unless the watchers were already given a later servingThrough.
    if (!loaded.queue || !feed.queue || loaded.queue.servingThrough >= feed.queue.servingThrough) feed.queue = loaded.queue ?? null;
    const line = feed.queue && { servingThrough: feed.queue.servingThrough, waiting: feed.queue.waiting };
    send(client, { type: 'subscribed', ...snapshot, ...line });
  }

  function detachSubscription(client: ClientState, eventId: number): void {
    const watchers = subscribersByEvent.get(eventId);
    if (!watchers?.delete(client.clientId)) return;
    // A closed socket has left its topics already (Bun).
    if (!client.closing) client.socket.unsubscribe(sliceTopic(eventId, sliceOf(client.clientId, sliceCount)));
    if (watchers.size === 0) {
      subscribersByEvent.delete(eventId);
      releaseFeedIfIdle(eventId);
    }
  }

  /**
   * The events `client` watches, read off `subscribersByEvent`: a scan of the events watched in
   * this process, on a new subscription and on a close, instead of a set per client that would be
   * a third record of each subscription (beside Bun's topic and the map) to keep in step.
   */
  function eventsWatchedBy(client: ClientState): number[] {
    const watched: number[] = [];
    for (const [eventId, watchers] of subscribersByEvent) if (watchers.has(client.clientId)) watched.push(eventId);
    return watched;
  }

  async function subscribe(client: ClientState, eventId: number): Promise<void> {
    const alreadySubscribed = subscribersByEvent.get(eventId)?.has(client.clientId) ?? false;
    if (!alreadySubscribed && eventsWatchedBy(client).length >= WS_LIMITS.maxSubscriptions) {
      sendError(client, 'too_many_subscriptions', `At most ${WS_LIMITS.maxSubscriptions} subscriptions per connection`, { eventId });
      return;
    }
    // Visibility is per user, so even an event others watch is checked for this one.
    await withSeatState(eventId, client.userId, (loaded) => {
      if (client.closing) return;
      if (!loaded) return sendError(client, 'event_not_found', `Event ${eventId} not found`, { eventId });
      // A repeat goes through the same step: it re-sends the snapshot, idempotently.
      attachSubscription(client, loaded);
    });
  }

  /**
   * A committed change from the feed. A seat change: versions at or below what was already
   * handed out are dropped; within a burst, at most one message per watcher per window goes out,
   * always the latest state (fan-out-slices.ts). A move to draft is not ordered by version (it
   * does not bump it): it removes the event's other watchers at once.
   */
  function handleSeatChange(change: FeedChange): void {
    if (isHoldNotice(change)) return tellOwner(change);
    // Untracked: nobody here watches or is reading it, and the next reader sees this change in the database.
    const feed = feedByEvent.get(change.eventId);
    if (!feed) return;
    if (change.kind === 'event_hidden') return hideFromAllButOrganizer(feed, change);
    feed.slices.deliver(change);
  }

  /**
   * Where an event's line stands, to its watchers here, when it moved: never a servingThrough
   * below one already given out (each process reads the line by itself, at its own moments).
   */
  function handleQueueProgress(progress: QueueProgress): void {
    const feed = feedByEvent.get(progress.eventId);
    if (!feed) return;
    const given = feed.queue;
    if (given && (progress.servingThrough < given.servingThrough || (progress.servingThrough === given.servingThrough && progress.waiting === given.waiting && progress.ratePerMinute === given.ratePerMinute))) return;
    feed.queue = progress;
    const { eventId, servingThrough, waiting, ratePerMinute } = progress;
    const text = JSON.stringify({ type: 'queue_progress', eventId, servingThrough, waiting, ratePerMinute } satisfies ServerMessage);
    const server = attachedPublisher();
    for (let slice = 0; slice < sliceCount; slice++) {
      const topic = sliceTopic(progress.eventId, slice);
      const watchers = server.subscriberCount(topic);
      if (watchers === 0) continue;
      server.publish(topic, text);
      metrics?.messagesSent(watchers);
    }
  }

  /** A hold's fate, to every connection its owner has here (the other processes tell theirs). */
  function tellOwner(notice: HoldNotice): void {
    const owned = clientsByUser.get(notice.userId);
    if (!owned) return;
    const { holdId, eventId } = notice;
    const message: ServerMessage =
      notice.kind === 'hold_expiring'
        ? { type: 'hold_expiring', holdId, eventId, expiresAt: new Date(notice.expiresAtMs).toISOString() }
        : { type: 'hold_expired', holdId, eventId };
    for (const client of owned) send(client, message);
  }

  /**
   * The event became a draft: every watcher here but its organizer is told `event_not_found` and
   * leaves it, as if it had never been visible; a connection opened for that event is closed
   * 4404. Published again, the event may be subscribed to again; nobody is put back on its own.
   */
  function hideFromAllButOrganizer(feed: EventFeedState, hidden: EventHidden): void {
    const { eventId, organizerId } = hidden;
    feed.hidings += 1;
    for (const clientId of [...(subscribersByEvent.get(eventId) ?? [])]) {
      const client = clients.get(clientId);
      if (!client || client.userId === organizerId) continue;
      detachSubscription(client, eventId);
      sendError(client, 'event_not_found', `Event ${eventId} not found`, { eventId });
      if (client.openedFor === eventId) closeClient(client, WS_CLOSE.eventNotFound, 'event not found');
    }
  }

  /**
   * After a feed outage: the current state of every watched event, published where newer; an
   * event that is a draft now loses its other watchers, in case its move was among what was missed.
   */
  function catchUp(states: ViewableSeatState[]): void {
    for (const state of states) {
      if (state.status === 'draft') handleSeatChange({ kind: 'event_hidden', eventId: state.eventId, organizerId: state.organizerId, version: state.version });
      handleSeatChange({ ...seatStateOf(state), kind: 'seat_update' });
    }
  }

  function enqueue(client: ClientState, work: () => void | Promise<void>): Promise<void> {
    client.queue = client.queue.then(work).catch((error: unknown) => {
      logger.error('websocket message failed', { clientId: client.clientId, ...describeError(error) });
    });
    return client.queue;
  }

  /**
   * `refresh_token`: a valid token of the same user becomes the connection's, and its expiry the
   * connection's; anything else is `unauthorized` and changes nothing. A check that cannot be
   * made (the database is away) is answered the same way: the old token still holds, and the
   * client may try again.
   */
  async function refreshToken(client: ClientState, token: string | null): Promise<void> {
    let verified: VerifiedToken | null = null;
    try {
      verified = token === null ? null : await verifyToken(token);
    } catch (error) {
      logger.warn('websocket token refresh could not be checked', { clientId: client.clientId, ...describeError(error) });
      sendError(client, 'unauthorized', 'The token could not be checked just now; the connection keeps its current token, try again');
      return;
    }
    if (client.closing) return;
    if (!verified || verified.user.id !== client.userId) {
      sendError(client, 'unauthorized', 'Invalid, expired or another user’s token; the connection keeps its current token');
      return;
    }
    client.tokenExpiry.renew(verified.expiresAt);
    send(client, { type: 'token_refreshed', expiresAt: isoTime(verified.expiresAt) });
  }

  const clientOf = (socket: ManagedSocket) => (socket.data.clientId === undefined ? undefined : clients.get(socket.data.clientId));

  function handleMessage(socket: ManagedSocket, raw: string | Uint8Array): Promise<void> {
    const client = clientOf(socket);
    if (!client || client.closing || client.messageRate.flooded) return Promise.resolve();
    const verdict = admitMessage(client.messageRate, now());
    if (verdict === 'accept') return enqueue(client, () => answer(client, raw));
    // A dropped message's answer, and the 4429 close, wait behind the answers still owed, so
    // the client learns why.
    if (verdict === 'close') enqueue(client, () => closeClient(client, WS_CLOSE.rateLimited, 'rate limit exceeded'));
    else if (verdict === 'drop_and_warn') {
      enqueue(client, () => sendError(client, 'rate_limited', `Too many messages: at most ${WS_LIMITS.rateRefillPerSecond} a second`));
    }
    return client.queue;
  }

  async function answer(client: ClientState, raw: string | Uint8Array): Promise<void> {
    // Gone while this waited in the queue: nobody to answer, no database read to spend.
    if (client.closing) return;
    if (typeof raw !== 'string') {
      sendError(client, 'invalid_message', 'Binary frames are not supported; send JSON text');
      return;
    }
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      sendError(client, parsed.code, parsed.message);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'ping':
        send(client, { type: 'pong' });
        return;
      case 'subscribe_event':
        await subscribe(client, message.eventId);
        return;
      case 'unsubscribe_event':
        detachSubscription(client, message.eventId);
        send(client, { type: 'unsubscribed', eventId: message.eventId });
        return;
      case 'refresh_token':
        await refreshToken(client, message.token);
        return;
    }
  }

  /** Every close path ends here: the client leaves both maps at once. */
  function handleClose(socket: ManagedSocket): void {
    const client = clientOf(socket);
    if (!client) return;
    client.closing = true;
    for (const eventId of eventsWatchedBy(client)) detachSubscription(client, eventId);
    clients.delete(client.clientId);
    const ofUser = clientsByUser.get(client.userId);
    ofUser?.delete(client);
    if (ofUser?.size === 0) clientsByUser.delete(client.userId);
    client.tokenExpiry.stop();
  }

  /** Users whose accounts are gone: each of their connections hears `unauthorized`, then 4401. */
  function disconnectUsers(userIds: Iterable<number>): void {
    for (const userId of new Set(userIds)) {
      for (const client of clientsByUser.get(userId) ?? []) {
        sendError(client, 'unauthorized', 'The account for this token no longer exists');
        closeClient(client, WS_CLOSE.unauthorized, 'unauthorized');
      }
    }
  }

  function closeAll(code: number = WS_CLOSE.goingAway, reason = 'server shutting down'): void {
    for (const client of [...clients.values()]) closeClient(client, code, reason);
  }

  function stop(): void {
    for (const client of clients.values()) client.tokenExpiry.stop();
    for (const feed of feedByEvent.values()) feed.slices.stop();
  }

  return {
    clients: clients as ReadonlyMap<string, ClientState>,
    subscribersByEvent: subscribersByEvent as ReadonlyMap<number, ReadonlySet<string>>,
    attachPublisher(server: Publisher) {
      publisher = server;
    },
    rejectUnauthorized,
    rejectEventNotFound,
    openGeneral,
    openForEvent,
    handleMessage,
    handleClose,
    handleSeatChange,
    handleQueueProgress,
    catchUp,
    /** Event ids watched here or being read for a snapshot (for feed catch-up). */
    watchedEventIds: () => [...feedByEvent.keys()],
    disconnectUsers,
    /** Every user with an open connection here. */
    connectedUserIds: () => new Set(clientsByUser.keys()),
    closeAll,
    stop,
    stats: () => ({ connections: clients.size, subscriptions: [...subscribersByEvent.values()].reduce((sum, set) => sum + set.size, 0) }),
  };
}
