import { Elysia } from 'elysia';
import type { AppDeps } from '../app';
import { bearerToken } from '../lib/tokens';

/**
 * `/ws` and `/ws/events/:id`. The token is checked once per upgrade in `resolve` (Elysia runs a
 * WebSocket route's beforeHandle twice); a bad token still upgrades, so the client can be told
 * why before the 4401 close.
 */
export function websocketRoutes({ tokens, websocket }: AppDeps) {
  return new Elysia({ tags: ['WebSocket'] })
    .resolve(async ({ query, headers }) => ({
      // An empty `?token=` is no token: the header may still carry one.
      verifiedToken: await tokens.verify(query.token || bearerToken(headers.authorization)),
    }))
    .ws('/ws', {
      detail: { hide: true },
      open(ws) {
        const verified = ws.data.verifiedToken;
        if (!verified) return websocket.rejectUnauthorized(ws.raw);
        websocket.openGeneral(ws.raw, verified.user, verified.expiresAt);
      },
      message(ws, message) {
        return websocket.handleMessage(ws.raw, message);
      },
      close(ws) {
        websocket.handleClose(ws.raw);
      },
    })
    .ws('/ws/events/:id', {
      detail: { hide: true },
      async open(ws) {
        const verified = ws.data.verifiedToken;
        if (!verified) return websocket.rejectUnauthorized(ws.raw);
        await websocket.openForEvent(ws.raw, verified.user, verified.expiresAt, ws.data.params.id);
      },
      message(ws, message) {
        return websocket.handleMessage(ws.raw, message);
      },
      close(ws) {
        websocket.handleClose(ws.raw);
      },
    });
}
