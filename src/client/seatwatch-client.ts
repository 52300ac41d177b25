/**
 * The Seatwatch WebSocket client (SPEC §5), for browsers and Bun alike: it only needs the
 * global WebSocket. Message types come from the server's own protocol module, imported as types
 * only, so no server code (and no zod) ends up in a browser bundle.
 */
import type { SeatMessageType, ServerMessage, ServerMessageType, WS_CLOSE, WS_LIMITS } from '../protocol';
import { reconnectDelayMs } from './backoff';
import { createLineProgress, placeInLine, type LineProgress } from './line-progress';
import { createSeatVersions, type SeatState } from './seat-versions';
import { createSendPacer } from './send-pacer';
import { globalTimers, type Timers } from './timers';

/** The protocol's numbers the client acts on; `satisfies` makes tsc fail if they drift from protocol.ts. */
const CLOSE = { unauthorized: 4401, eventNotFound: 4404, rateLimited: 4429 } as const satisfies Pick<
  typeof WS_CLOSE,
  'unauthorized' | 'eventNotFound' | 'rateLimited'
>;
const PROTOCOL = { clientPingIntervalMs: 30_000, tokenWarningSeconds: 60 } as const satisfies Pick<typeof WS_LIMITS, 'clientPingIntervalMs' | 'tokenWarningSeconds'>;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Why the client stopped for good (state `closed`). */
export type ClosedReason = 'client' | 'unauthorized' | 'event_not_found' | 'no_token';

export interface ConnectionStateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** The close code of the connection that just ended, when one did. */
  closeCode?: number;
  /** While reconnecting: the wait before the next attempt. */
  retryInMs?: number;
  /** Failed attempts since the last open connection. */
  attempt: number;
  /** When closed: why. */
  closedReason?: ClosedReason;
}

export type { LineProgress, SeatState };

/**
 * A token, or a function returning a fresh one: called before every connection attempt and, when
 * the server warns that the token is expiring, for the token handed to the open connection.
 * Only a function keeps a connection alive past one token's lifetime.
 */
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

/** Why a token refresh on the open connection failed: the source threw, gave no token, or the server refused what it gave. */
export type TokenRefreshFailure = 'source_failed' | 'no_token' | 'refused';

/**
 * A refresh that did not happen. The connection carries on with its old token and is closed
 * 4401 at `expiresAt`; the client then reconnects with whatever the token source gives.
 */
export class TokenRefreshError extends Error {
  constructor(
    readonly reason: TokenRefreshFailure,
    /** When the connection's current token expires (ISO 8601), as the server said. */
    readonly expiresAt: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      reason === 'refused'
        ? 'The server refused the refreshed token'
        : reason === 'no_token'
          ? 'The token source gave no token to refresh with'
          : 'The token source failed',
      options,
    );
    this.name = 'TokenRefreshError';
  }
}

export interface SeatwatchClientOptions {
  /** `ws(s)://host:port/ws`; an `http(s)://` URL or a bare origin works too (`/ws` is added). */
  url: string;
  token: TokenSource;
  /** Keep-alive `ping` every this many ms (SPEC: 30 s). */
  pingIntervalMs?: number;
  /** No message at all within this long after a ping (or after connecting): the connection is dead. */
  livenessTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectCapMs?: number;
  /** After a 4429 (rate limited) close, at least this long before trying again. */
  rateLimitedDelayMs?: number;
  /**
   * Outgoing frames: a burst, then so many a second. The default stays under the server's limit;
   * raise it only to exercise that limit.
   */
  sendRate?: { burst: number; perSecond: number };
  /** Injectable for tests. */
  timers?: Timers;
  random?: () => number;
}

type MessageOfType<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;
type SeatMessage = MessageOfType<'subscribed' | SeatMessageType>;
const SEAT_MESSAGE_TYPES: ReadonlySet<ServerMessageType> = new Set<'subscribed' | SeatMessageType>([
  'subscribed',
  'booking_created',
  'booking_cancelled',
  'seats_held',
  'seats_released',
  'seat_update',
]);

/** The signed-in user's own holds, as the server tells only them: one about to expire, one expired (its seats came back). */
export type HoldMessage = MessageOfType<'hold_expiring' | 'hold_expired'>;

export type SeatsHandler = (eventId: number, state: SeatState) => void;
export type MessageHandler = (message: ServerMessage, rawText: string) => void;
export type StateHandler = (change: ConnectionStateChange) => void;
export type TokenRefreshErrorHandler = (error: TokenRefreshError) => void;
export type HoldHandler = (message: HoldMessage) => void;
export type QueueProgressHandler = (progress: LineProgress) => void;

export interface SeatwatchClient {
  readonly state: ConnectionState;
  /** Watch an event; remembered and re-sent after every reconnect. Repeating it asks for a fresh snapshot. */
  subscribe(eventId: number): void;
  unsubscribe(eventId: number): void;
  /** Event ids currently watched. */
  subscriptions(): number[];
  /** The newest seat state seen for an event. */
  seats(eventId: number): SeatState | undefined;
  /** Seat state that is news: snapshots and updates, with stale and repeated versions dropped. */
  onSeats(handler: SeatsHandler): () => void;
  /** Every server message as it arrives, stale ones included (for logs and debug panels). */
  onMessage(handler: MessageHandler): () => void;
  /** Every message of one type, as it arrives. */
  on<T extends ServerMessageType>(type: T, handler: (message: MessageOfType<T>) => void): () => void;
  /** State transitions, and each scheduled retry while reconnecting. */
  onStateChange(handler: StateHandler): () => void;
  /**
   * The user's own holds: `hold_expiring` (HOLD_WARNING_SECONDS before `expiresAt`, again after an
   * extension) and `hold_expired` (the seats came back). Sent to every connection of the user.
   */
  onHold(handler: HoldHandler): () => void;
  /**
   * Where a watched event's waiting line stands, when it moved: from `queue_progress` and from the
   * `subscribed` snapshot of an event with a line. A servingThrough below one already seen is dropped.
   */
  onQueueProgress(handler: QueueProgressHandler): () => void;
  /** The newest line progress seen for a watched event; undefined without a line or before any word of it. */
  queueProgress(eventId: number): LineProgress | undefined;
  /**
   * The caller's live place for their `ticket` (from the REST queue answer): ticket − servingThrough,
   * 0 once admitted; null while the ticket is not drawn yet or nothing is known of the line.
   */
  queuePosition(eventId: number, ticket: number | null): number | null;
  /** A token refresh on the open connection failed (see TokenRefreshError). */
  onTokenRefreshError(handler: TokenRefreshErrorHandler): () => void;
  /** Use a new token (or source); after a 4401 close on a refused token this is what brings the client back. */
  setToken(token: TokenSource): void;
  /** While reconnecting: skip the rest of the wait (e.g. the browser just came back online). */
  reconnectNow(): void;
  /** Stop for good: closes the socket and clears every timer. */
  close(): void;
}

const DEFAULTS = {
  pingIntervalMs: PROTOCOL.clientPingIntervalMs,
  livenessTimeoutMs: 10_000,
  reconnectBaseMs: 500,
  reconnectCapMs: 30_000,
  rateLimitedDelayMs: 30_000,
};

/** Stays under the server's bucket of 40 refilled at 20/s, with room for pings. */
const SEND_PACE = { burst: 30, perSecond: 15 };

export function webSocketUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/ws';
  return parsed.toString();
}

function isSeatMessage(message: ServerMessage): message is SeatMessage {
  return SEAT_MESSAGE_TYPES.has(message.type);
}

function isHoldMessage(message: ServerMessage): message is HoldMessage {
  return message.type === 'hold_expiring' || message.type === 'hold_expired';
}

/** The line progress a message carries: all of a `queue_progress`, or the line part of a snapshot of an event that has one. */
function lineProgressOf(message: ServerMessage): LineProgress | null {
  if (message.type === 'queue_progress') {
    const { eventId, servingThrough, waiting, ratePerMinute } = message;
    return { eventId, servingThrough, waiting, ratePerMinute };
  }
  if (message.type === 'subscribed' && message.servingThrough !== undefined) {
    return { eventId: message.eventId, servingThrough: message.servingThrough, waiting: message.waiting ?? 0 };
  }
  return null;
}

export function createSeatwatchClient(options: SeatwatchClientOptions): SeatwatchClient {
  const settings = { ...DEFAULTS, ...options };
  const timers = options.timers ?? globalTimers;
  const random = options.random ?? Math.random;
  const endpoint = webSocketUrl(options.url);

  let tokenSource = options.token;
  let state: ConnectionState = 'connecting';
  let socket: WebSocket | null = null;
  /** Bumped for every attempt, so a slow token lookup or an old socket cannot act on a newer one. */
  let attemptId = 0;
  let failedAttempts = 0;
  let retryTimer: unknown = null;
  let pingTimer: unknown = null;
  let livenessTimer: unknown = null;
  /** Set between a `token_expiring` and the moment its refresh is due. */
  let refreshTimer: unknown = null;
  /** A `refresh_token` went out on the current socket: its answer (`token_refreshed` or `error unauthorized`) is owed. */
  let refreshAwaited: { expiresAt: string } | null = null;
  /** The current socket has said `connection_established`: frames may go out. */
  let ready = false;
  /** close() was called: nothing brings the client back. */
  let closedByCaller = false;

  const watched = new Set<number>();
  const versions = createSeatVersions();
  const seatsHandlers = new Set<SeatsHandler>();
  const messageHandlers = new Set<MessageHandler>();
  const stateHandlers = new Set<StateHandler>();
  const refreshErrorHandlers = new Set<TokenRefreshErrorHandler>();
  const holdHandlers = new Set<HoldHandler>();
  const lines = createLineProgress();
  const queueHandlers = new Set<QueueProgressHandler>();
  const pacer = createSendPacer((frame) => socket?.send(frame), options.sendRate ?? SEND_PACE, timers);

  const listen = <T>(handlers: Set<T>, handler: T) => {
    handlers.add(handler);
    return () => void handlers.delete(handler);
  };

  function setState(next: ConnectionState, detail: Omit<ConnectionStateChange, 'state' | 'previous' | 'attempt'> = {}): void {
    const previous = state;
    if (previous === next && next !== 'reconnecting') return;
    state = next;
    const change: ConnectionStateChange = { state: next, previous, attempt: failedAttempts, ...detail };
    for (const handler of [...stateHandlers]) handler(change);
  }

  function clearTimer(kind: 'retry' | 'ping' | 'liveness' | 'refresh'): void {
    if (kind === 'retry' && retryTimer !== null) timers.clearTimeout(retryTimer);
    if (kind === 'ping' && pingTimer !== null) timers.clearInterval(pingTimer);
    if (kind === 'liveness' && livenessTimer !== null) timers.clearTimeout(livenessTimer);
    if (kind === 'refresh' && refreshTimer !== null) timers.clearTimeout(refreshTimer);
    if (kind === 'retry') retryTimer = null;
    if (kind === 'ping') pingTimer = null;
    if (kind === 'liveness') livenessTimer = null;
    if (kind === 'refresh') refreshTimer = null;
  }

  function armLiveness(ms: number): void {
    if (livenessTimer !== null) return;
    livenessTimer = timers.setTimeout(() => {
      livenessTimer = null;
      // Silence: the network may have dropped without a close frame ever arriving.
      abandonSocket(4000, 'keep-alive timeout');
      scheduleReconnect(undefined);
    }, ms);
  }

  /** Detaches the current socket so its late events are ignored, and closes it. */
  function abandonSocket(code: number, reason: string): void {
    const old = socket;
    socket = null;
    ready = false;
    refreshAwaited = null;
    clearTimer('ping');
    clearTimer('liveness');
    clearTimer('refresh');
    pacer.reset();
    if (!old) return;
    try {
      old.close(code, reason);
    } catch {
      // Already closing: nothing left to do.
    }
  }

  async function resolveToken(): Promise<string | null | undefined> {
    return typeof tokenSource === 'function' ? tokenSource() : tokenSource;
  }

  async function connect(): Promise<void> {
    retryTimer = null;
    const myAttempt = ++attemptId;
    let token: string | null | undefined;
    try {
      token = await resolveToken();
    } catch {
      if (myAttempt === attemptId && state !== 'closed') scheduleReconnect(undefined);
      return;
    }
    if (myAttempt !== attemptId || state === 'closed') return;
    if (!token) {
      setState('closed', { closedReason: 'no_token' });
      return;
    }
    const url = new URL(endpoint);
    url.searchParams.set('token', token);
    let opened: WebSocket;
    try {
      opened = new WebSocket(url.toString());
    } catch {
      scheduleReconnect(undefined);
      return;
    }
    socket = opened;
    opened.addEventListener('message', (event) => {
      if (socket === opened) handleFrame(event.data);
    });
    opened.addEventListener('close', (event) => {
      if (socket === opened) handleClose(event.code);
    });
    armLiveness(settings.livenessTimeoutMs);
  }

  function scheduleReconnect(closeCode: number | undefined): void {
    clearTimer('retry');
    let delay = reconnectDelayMs(failedAttempts, { baseMs: settings.reconnectBaseMs, capMs: settings.reconnectCapMs }, random);
    // Rate limited: coming straight back would only be closed again.
    if (closeCode === CLOSE.rateLimited) delay += settings.rateLimitedDelayMs;
    failedAttempts += 1;
    setState('reconnecting', { closeCode, retryInMs: delay });
    retryTimer = timers.setTimeout(() => void connect(), delay);
  }

  function handleClose(code: number): void {
    const wasEstablished = ready;
    abandonSocket(1000, 'closed');
    if (state === 'closed') return;
    if (code === CLOSE.unauthorized) {
      // A token that ran out on an open connection: a source gives a fresh one. A token refused
      // at connect would be refused again (and a source that gave it may give it again): wait
      // for setToken.
      if (wasEstablished && typeof tokenSource === 'function') return scheduleReconnect(code);
      setState('closed', { closeCode: code, closedReason: 'unauthorized' });
      return;
    }
    if (code === CLOSE.eventNotFound) {
      setState('closed', { closeCode: code, closedReason: 'event_not_found' });
      return;
    }
    scheduleReconnect(code);
  }

  function established(): void {
    ready = true;
    failedAttempts = 0;
    // The `subscribed` snapshots bring every watched event current after the gap.
    versions.expectSnapshots(watched);
    for (const eventId of watched) send({ type: 'subscribe_event', eventId });
    pingTimer = timers.setInterval(() => {
      send({ type: 'ping' });
      armLiveness(settings.livenessTimeoutMs);
    }, settings.pingIntervalMs);
    setState('open');
  }

  function handleFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
    // Any message proves the connection is alive.
    clearTimer('liveness');
    if (message.type === 'connection_established' && !ready) established();
    if (message.type === 'token_expiring') scheduleRefresh(message.expiresAt);
    if (message.type === 'token_refreshed') refreshAwaited = null;
    // Errors carry no request id, but answers come in order and a refresh's refusal is the only
    // `unauthorized` an open connection hears before its close.
    if (message.type === 'error' && message.code === 'unauthorized' && refreshAwaited) {
      const { expiresAt } = refreshAwaited;
      refreshAwaited = null;
      refreshFailed(new TokenRefreshError('refused', expiresAt));
    }
    for (const handler of [...messageHandlers]) handler(message, data);
    if (isSeatMessage(message)) deliverSeats(message);
    if (isHoldMessage(message)) for (const handler of [...holdHandlers]) handler(message);
    const line = lineProgressOf(message);
    if (line) deliverLine(line);
  }

  /**
   * Answers `token_expiring` halfway between now and the expiry (within the 60 s a warning gives,
   * whatever the two clocks say): as much time again is left should the source be slow, and a
   * token shorter-lived than the warning, which is warned of at once, is not refreshed in a
   * tight loop. A fixed token cannot be refreshed: the connection closes at its expiry.
   */
  function scheduleRefresh(expiresAt: string): void {
    if (typeof tokenSource !== 'function') return;
    clearTimer('refresh');
    const leftMs = Math.min(Math.max(Date.parse(expiresAt) - Date.now(), 0), PROTOCOL.tokenWarningSeconds * 1000);
    refreshTimer = timers.setTimeout(() => {
      refreshTimer = null;
      void refreshToken(expiresAt);
    }, leftMs / 2);
  }

  async function refreshToken(expiresAt: string): Promise<void> {
    const forSocket = socket;
    let token: string | null | undefined;
    try {
      token = await resolveToken();
    } catch (error) {
      if (socket === forSocket) refreshFailed(new TokenRefreshError('source_failed', expiresAt, { cause: error }));
      return;
    }
    // The connection it was for is gone: the next one starts with a token of its own.
    if (socket !== forSocket || !ready) return;
    if (!token) return refreshFailed(new TokenRefreshError('no_token', expiresAt));
    refreshAwaited = { expiresAt };
    send({ type: 'refresh_token', token });
  }

  function refreshFailed(error: TokenRefreshError): void {
    for (const handler of [...refreshErrorHandlers]) handler(error);
  }

  function deliverSeats(message: SeatMessage): void {
    if (!watched.has(message.eventId)) return;
    const seatState: SeatState = {
      eventId: message.eventId,
      availableSeats: message.availableSeats,
      heldSeats: message.heldSeats,
      capacity: message.capacity,
      version: message.version,
    };
    if (!versions.accept(seatState, message.type === 'subscribed')) return;
    for (const handler of [...seatsHandlers]) handler(message.eventId, { ...seatState });
  }

  function deliverLine(heard: LineProgress): void {
    if (!watched.has(heard.eventId)) return;
    const news = lines.accept(heard);
    if (news) for (const handler of [...queueHandlers]) handler({ ...news });
  }

  function send(message: { type: 'ping' } | { type: 'subscribe_event' | 'unsubscribe_event'; eventId: number } | { type: 'refresh_token'; token: string }): void {
    if (!ready) return;
    pacer.push(JSON.stringify(message));
  }

  void connect();

  return {
    get state() {
      return state;
    },
    subscribe(eventId) {
      watched.add(eventId);
      send({ type: 'subscribe_event', eventId });
    },
    unsubscribe(eventId) {
      const wasWatched = watched.delete(eventId);
      versions.forget(eventId);
      lines.forget(eventId);
      if (wasWatched) send({ type: 'unsubscribe_event', eventId });
    },
    subscriptions: () => [...watched],
    seats: (eventId) => versions.get(eventId),
    onSeats: (handler) => listen(seatsHandlers, handler),
    onMessage: (handler) => listen(messageHandlers, handler),
    on(type, handler) {
      return listen(messageHandlers, (message) => {
        if (message.type === type) handler(message as MessageOfType<typeof type>);
      });
    },
    onStateChange: (handler) => listen(stateHandlers, handler),
    onHold: (handler) => listen(holdHandlers, handler),
    onQueueProgress: (handler) => listen(queueHandlers, handler),
    queueProgress: (eventId) => lines.get(eventId),
    queuePosition(eventId, ticket) {
      const progress = lines.get(eventId);
      return ticket === null || !progress ? null : placeInLine(ticket, progress.servingThrough);
    },
    onTokenRefreshError: (handler) => listen(refreshErrorHandlers, handler),
    setToken(token) {
      tokenSource = token;
      if (state !== 'closed' || closedByCaller) return;
      failedAttempts = 0;
      setState('connecting');
      void connect();
    },
    reconnectNow() {
      if (state !== 'reconnecting' || retryTimer === null) return;
      clearTimer('retry');
      void connect();
    },
    close() {
      closedByCaller = true;
      attemptId += 1;
      clearTimer('retry');
      abandonSocket(1000, 'client closed');
      setState('closed', { closedReason: 'client' });
    },
  };
}
