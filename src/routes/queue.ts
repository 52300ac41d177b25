import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { createBatchedPlaceReader } from '../services/place-reads';
import { getQueueEntries, joinQueue, leaveQueue } from '../services/queue';
import { errorAnswers, idParams, queueResult } from './schemas';

/** An event's waiting line (SPEC §9): join, look up your place, leave. */
export function queueRoutes({ database, tokens, metrics }: AppDeps) {
  const readPlace = createBatchedPlaceReader((eventId, userIds) => getQueueEntries(database.db, eventId, userIds));
  return new Elysia({ prefix: '/api/events/:id/queue', tags: ['Waiting room'] })
    .use(authPlugin(tokens))
    .post(
      '',
      async ({ user, params }) => {
        const { queue, joined } = await joinQueue(database.db, params.id, user.id);
        if (joined) metrics.queueJoined.inc();
        return { queue };
      },
      {
        auth: true,
        params: idParams,
        response: {
          200: queueResult.describe('In line: the new place, or the one already held (joining again keeps it)'),
          ...errorAnswers('validation_error', 'bad_request', 'unauthorized', 'event_not_found', 'database_unavailable'),
        },
        detail: { summary: 'Join the event’s waiting line (bad_request when it has none)' },
      },
    )
    .get('', async ({ user, params }) => ({ queue: await readPlace(params.id, user.id) }), {
      auth: true,
      params: idParams,
      response: { 200: queueResult.describe('The caller’s place, or null when not in line'), ...errorAnswers('validation_error', 'unauthorized', 'database_unavailable') },
      detail: { summary: 'Your place in the event’s line' },
    })
    .delete(
      '',
      async ({ user, params }) => {
        await leaveQueue(database.db, params.id, user.id);
        return { queue: null };
      },
      {
        auth: true,
        params: idParams,
        response: { 200: queueResult.describe('Out of line (also when not in it); joining again goes to the back'), ...errorAnswers('validation_error', 'unauthorized', 'database_unavailable') },
        detail: { summary: 'Leave the event’s line' },
      },
    );
}
