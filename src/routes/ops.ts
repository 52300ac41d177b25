import { Elysia } from 'elysia';
import { z } from 'zod';
import type { AppDeps } from '../app-deps';
import { errorAnswers, health } from './schemas';

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
      {
        response: {
          ...errorAnswers(),
          200: health('ok').describe('The database answers'),
          // Its own body, not the error body: a monitor reads one shape whatever the answer.
          503: health('unavailable').describe('The database does not answer'),
        },
        detail: { summary: 'Liveness: 200 when the database answers, else 503', security: [] },
      },
    )
    .get(
      '/metrics',
      ({ set }) => {
        set.headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8';
        return metrics.render();
      },
      {
        response: { 200: z.string().describe('Prometheus text exposition format 0.0.4'), ...errorAnswers() },
        detail: { summary: 'Prometheus metrics', security: [] },
      },
    );
}
