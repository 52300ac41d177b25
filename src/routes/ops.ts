import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';

export function opsRoutes({ database, metrics }: AppDeps) {
  return new Elysia({ tags: ['Operations'] })
    .get(
      '/health',
      async ({ status }) => {
        try {
          await database.ping();
          return { status: 'ok' as const };
        } catch {
          return status(503, { status: 'unavailable' as const });
        }
      },
      { detail: { summary: 'Liveness: 200 when the database answers, else 503' } },
    )
    .get(
      '/metrics',
      ({ set }) => {
        set.headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8';
        return metrics.render();
      },
      { detail: { summary: 'Prometheus metrics' } },
    );
}
