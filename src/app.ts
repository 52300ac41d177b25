import { Elysia } from 'elysia';
import type { AppDeps } from './app-deps';
import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import { isDatabaseUnreachable } from './db/unreachable';
import { AppError, errors, type FieldProblem } from './lib/errors';
import { describeError } from './lib/error-description';
import type { Logger } from './lib/logger';
import type { Metrics } from './lib/metrics';
import { parseCappedBody } from './lib/request-body';
import { traceRequest } from './lib/request-trace';
import type { Tokens } from './lib/tokens';
import { authRoutes } from './routes/auth';
import { bookingRoutes } from './routes/bookings';
import { dashboardRoutes } from './routes/dashboard';
import { eventRoutes } from './routes/events';
import { holdRoutes } from './routes/holds';
import { queueRoutes } from './routes/queue';
import { openapiRoutes } from './routes/openapi';
import { opsRoutes } from './routes/ops';
import { websocketRoutes } from './routes/websocket';
import { socketLimits } from './services/connection-limits';
import type { SeatFeed } from './services/seat-feed';
import type { WebSocketManager } from './services/websocket';

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

/**
 * Composes the whole server. Tests build it on a fresh database; index.ts adds start-up and
 * shutdown around it.
 */
export function createApp(deps: AppDeps) {
  const { logger, metrics, websocket } = deps;

  return (
    new Elysia({
      websocket: socketLimits(deps.websocketIdleTimeoutSeconds),
    })
      .onRequest(({ request }) => {
        traceRequest(request);
        const length = Number(request.headers.get('content-length') ?? 0);
        // Thrown, not returned, so the refusal is logged and counted like every other error.
        if (length > MAX_BODY_BYTES) throw errors.payloadTooLarge();
      })
      .onParse({ as: 'global' }, ({ request }, contentType) => parseCappedBody(request, contentType, MAX_BODY_BYTES))
      .onAfterHandle({ as: 'global' }, ({ set, request }) => {
        set.headers['x-request-id'] = traceRequest(request).requestId;
      })
      .onError({ as: 'global' }, (context) => {
        const { code, error, request } = context;
        const { requestId } = traceRequest(request);
        // Errors thrown while parsing the body arrive wrapped in Elysia's ParseError.
        const cause = code === 'PARSE' && error instanceof Error ? error.cause : undefined;
        let appError: AppError;
        if (error instanceof AppError) appError = error;
        else if (cause instanceof AppError) appError = cause;
        // A response that breaks its own schema is the server's fault: logged below, answered 500.
        else if (code === 'VALIDATION' && error.type !== 'response') appError = errors.validation(fieldProblems(error.all as ValidationIssue[], error.type));
        else if (code === 'PARSE') appError = errors.badRequest('Malformed request body: expected valid JSON');
        else if (code === 'NOT_FOUND') appError = errors.notFound(`No route for ${request.method} ${new URL(request.url).pathname}`);
        else if (isDatabaseUnreachable(error)) appError = errors.databaseUnavailable();
        else {
          // The cause, never its message, stack, the body or the parameters (error-description.ts).
          logger.error('unexpected error', { requestId, method: request.method, route: context.route || 'unmatched', ...describeError(error) });
          appError = errors.internal();
        }
        context.set.status = appError.status;
        return errorResponse(appError, requestId);
      })
      .onAfterResponse({ as: 'global' }, ({ request, route, set }) => {
        const { requestId, receivedAt } = traceRequest(request);
        let status = typeof set.status === 'number' ? set.status : 200;
        // An accepted WebSocket upgrade leaves the default 200 in `set`; what went out was 101.
        if (status === 200 && request.headers.get('upgrade')?.toLowerCase() === 'websocket') status = 101;
        // Unknown paths share one label so scanners cannot blow up the metric's cardinality.
        const routeLabel = route || 'unmatched';
        const seconds = (performance.now() - receivedAt) / 1000;
        metrics.httpRequests.inc({ method: request.method, route: routeLabel, status });
        metrics.httpDuration.observe({}, seconds);
        // Route pattern, never the URL: query strings can carry tokens (?token=…). No headers, no bodies.
        logger.info('request', { requestId, method: request.method, route: routeLabel, status, durationMs: Math.round(seconds * 100_000) / 100 });
      })
      .use(opsRoutes(deps))
      .use(authRoutes(deps))
      .use(eventRoutes(deps))
      .use(bookingRoutes(deps))
      .use(holdRoutes(deps))
      .use(queueRoutes(deps))
      .use(websocketRoutes(deps))
      .use(dashboardRoutes(deps))
      .use(openapiRoutes(deps))
      .onStart(({ server }) => {
        if (server) websocket.attachPublisher(server);
      })
  );
}

export type App = ReturnType<typeof createApp>;
