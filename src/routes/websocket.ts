import type { ServerWebSocket, WebSocketHandler } from 'bun';
import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { errors } from '../lib/errors';
import { isRowId } from '../lib/storable';
import { bearerToken, type VerifiedToken } from '../lib/tokens';
import type { KnownUsers } from '../services/known-users';
import type { WebSocketManager } from '../services/websocket';

/** All a socket carries: who it is (or that its token was refused), the event it asked for and, once open, its client id. */
export interface SocketData {
  verified: VerifiedToken | null;
  /** What `:id` of `/ws/events/:id` named; absent on `/ws`. */
  requested?: RequestedEvent;
  /** The manager's, set when it takes the socket in. */
  clientId?: string;
}

/** An event id, or the `:id` as given when it can name no event (still answered `event_not_found`, 4404). */
export type RequestedEvent = { eventId: number } | { notAnEventId: string };

export function parseRequestedEvent(id: string): RequestedEvent {
  const eventId = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
  return isRowId(eventId) ? { eventId } : { notAnEventId: id };
}

/**
 * `/ws` and `/ws/events/:id`: the token is checked once, here, and the request upgraded with
 * nothing but `SocketData`. A bad token still upgrades, so the client can be told why before the
 * 4401 close. Upgrading by hand instead of through Elysia's `.ws()` keeps each socket small:
 * Elysia's wrapper keeps the whole request context and a dozen closures per connection
 * (~5 KB each), which mattered at 10,000 watchers.
 */
export function websocketRoutes({ tokens }: AppDeps) {
  async function upgrade(request: Request, server: Bun.Server<SocketData> | null, token: string | undefined, requested?: RequestedEvent) {
    // An empty `?token=` is no token: the header may still carry one.
    const verified = await tokens.verify(token || bearerToken(request.headers.get('authorization')));
    const data: SocketData = requested === undefined ? { verified } : { verified, requested };
    if (server?.upgrade(request, { data })) return;
    throw errors.badRequest('Expected a WebSocket upgrade request');
  }

  return new Elysia({ tags: ['WebSocket'] })
    .get('/ws', ({ request, server, query }) => upgrade(request, server as Bun.Server<SocketData> | null, query.token), {
      detail: { hide: true },
    })
    .get(
      '/ws/events/:id',
      ({ request, server, query, params }) => upgrade(request, server as Bun.Server<SocketData> | null, query.token, parseRequestedEvent(params.id)),
      { detail: { hide: true } },
    );
}

/**
 * Bun's WebSocket callbacks for every upgraded socket, handed straight to the manager. Passed to
 * `listen` so they replace Elysia's dispatcher, which would look for handlers on the socket's data.
 */
export function websocketHandlers(websocket: WebSocketManager, knownUsers: Pick<KnownUsers, 'wasDeleted'>): WebSocketHandler<SocketData> {
  return {
    open(socket: ServerWebSocket<SocketData>) {
      const { verified, requested } = socket.data;
      // The account may have been deleted between the upgrade's check and this open.
      if (!verified || knownUsers.wasDeleted(verified.user.id)) return websocket.rejectUnauthorized(socket);
      if (requested === undefined) websocket.openGeneral(socket, verified.user, verified.expiresAt);
      else if ('eventId' in requested) void websocket.openForEvent(socket, verified.user, verified.expiresAt, requested.eventId);
      else websocket.rejectEventNotFound(socket, requested.notAnEventId);
    },
    message(socket, message) {
      void websocket.handleMessage(socket, message);
    },
    close(socket) {
      websocket.handleClose(socket);
    },
    drain: undefined,
    ping: undefined,
    pong: undefined,
  };
}
