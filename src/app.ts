import { Elysia } from 'elysia';
import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import { AppError, errors, type FieldProblem } from './lib/errors';
import { redactUrl, type Logger } from './lib/logger';
import type { Metrics } from './lib/metrics';
import type { Tokens } from './lib/tokens';
import { WS_LIMITS } from './protocol';
import { authRoutes } from './routes/auth';
import { bookingRoutes } from './routes/bookings';
import { eventRoutes } from './routes/events';
import { opsRoutes } from './routes/ops';
import { websocketRoutes } from './routes/websocket';
import type { SeatFeed } from './services/seat-feed';
import type { WebSocketManager } from './services/websocket';

export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  tokens: Tokens;
  seatFeed: SeatFeed;
  websocket: WebSocketManager;
  metrics: Metrics;
  logger: Logger;
}

export const MAX_BODY_BYTES = 64 * 1024;

const jsonHeaders = { 'content-type': 'application/json; charset=utf-8' };

function errorResponse(error: AppError, requestId: string): Response {
  return new Response(JSON.stringify(error.toBody()), { status: error.status, headers: { ...jsonHeaders, 'x-request-id': requestId } });
}

interface ValidationIssue {
  path?: string;
  message?: string;
  summary?: string;
}

/** Elysia's validation issues → SPEC's `details`; never echoes the submitted values back. */
function fieldProblems(issues: readonly ValidationIssue[], part: string): FieldProblem[] {
  return issues.map((issue) => {
    const path = issue.path && issue.path !== 'root' ? issue.path.replace(/^\//, '').replace(/\//g, '.') : part;
    return { field: path, message: issue.message ?? issue.summary ?? 'is invalid' };
  });
}

let requestCounter = 0;
const nextRequestId = () => `req_${Date.now().toString(36)}_${(++requestCounter).toString(36)}`;

/**
 * Composes the whole server. Tests build it on a fresh database; index.ts adds start-up and
 * shutdown around it.
 */
export function createApp(deps: AppDeps) {
  const { logger, metrics, websocket } = deps;

  return (
    new Elysia({
      websocket: {
        maxPayloadLength: WS_LIMITS.maxFrameBytes,
        idleTimeout: WS_LIMITS.idleTimeoutSeconds,
        sendPings: true,
        // A watcher that stops reading is dropped rather than buffered without bound.
        backpressureLimit: 1024 * 1024,
        closeOnBackpressureLimit: true,
      },
    })
      .derive({ as: 'global' }, ({ request }) => ({
        requestId: request.headers.get('x-request-id')?.slice(0, 100) || nextRequestId(),
        receivedAt: performance.now(),
      }))
      .onRequest(({ request }) => {
        const length = Number(request.headers.get('content-length') ?? 0);
        if (length > MAX_BODY_BYTES) return errorResponse(errors.payloadTooLarge(), nextRequestId());
      })
      .onAfterHandle({ as: 'global' }, ({ set, requestId }) => {
        set.headers['x-request-id'] = requestId;
      })
      .onError({ as: 'global' }, (context) => {
        const { code, error, request } = context;
        // derive() may not have run (unknown route, parse failure), so fall back to a fresh id.
        const requestId = 'requestId' in context && typeof context.requestId === 'string' ? context.requestId : nextRequestId();
        let appError: AppError;
        if (error instanceof AppError) appError = error;
        else if (code === 'VALIDATION') appError = errors.validation(fieldProblems(error.all as ValidationIssue[], error.type));
        else if (code === 'PARSE') appError = errors.badRequest('Malformed request body: expected valid JSON');
        else if (code === 'NOT_FOUND') appError = errors.notFound(`No route for ${request.method} ${new URL(request.url).pathname}`);
        else {
          logger.error('unexpected error', {
            requestId,
            method: request.method,
            path: redactUrl(new URL(request.url).pathname),
            error: error instanceof Error ? error.stack ?? error.message : String(error),
          });
          appError = errors.internal();
        }
        context.set.status = appError.status;
        return errorResponse(appError, requestId);
      })
      .onAfterResponse({ as: 'global' }, (context) => {
        const { request, route, set } = context;
        const requestId = 'requestId' in context && typeof context.requestId === 'string' ? context.requestId : undefined;
        const receivedAt = 'receivedAt' in context && typeof context.receivedAt === 'number' ? context.receivedAt : undefined;
        const status = typeof set.status === 'number' ? set.status : 200;
        const routeLabel = route || 'unmatched';
        const seconds = receivedAt === undefined ? 0 : (performance.now() - receivedAt) / 1000;
        metrics.httpRequests.inc({ method: request.method, route: routeLabel, status });
        metrics.httpDuration.observe({}, seconds);
        logger.info('request', { requestId, method: request.method, route: routeLabel, status, durationMs: Math.round(seconds * 100_000) / 100 });
      })
      .use(opsRoutes(deps))
      .use(authRoutes(deps))
      .use(eventRoutes(deps))
      .use(bookingRoutes(deps))
      .use(websocketRoutes(deps))
      .onStart(({ server }) => {
        if (server) websocket.attachPublisher(server);
      })
  );
}

export type App = ReturnType<typeof createApp>;
