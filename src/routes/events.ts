import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { createEvent, getVisibleEvent, listEvents, updateEvent } from '../services/event';
import { createEventBody, idParams, listEventsQuery, patchEventBody } from './schemas';

export function eventRoutes({ database, tokens, seatFeed }: AppDeps) {
  return new Elysia({ prefix: '/api/events', tags: ['Events'] })
    .use(authPlugin(tokens))
    .get('', async ({ viewer, query }) => ({ events: await listEvents(database.db, viewer?.id ?? null, query) }), {
      optionalAuth: true,
      query: listEventsQuery,
      detail: { summary: "Published events, plus the caller's own drafts" },
    })
    .get('/:id', async ({ viewer, params }) => ({ event: await getVisibleEvent(database.db, params.id, viewer?.id ?? null) }), {
      optionalAuth: true,
      params: idParams,
      detail: { summary: 'One event (a draft only for its organizer)' },
    })
    .post('', async ({ user, body, status }) => status(201, { event: await createEvent(database.db, user.id, body) }), {
      auth: true,
      body: createEventBody,
      detail: { summary: 'Create an event; the caller becomes its organizer', security: [{ bearerAuth: [] }] },
    })
    .patch('/:id', async ({ user, params, body }) => ({ event: await updateEvent(database.db, seatFeed, user.id, params.id, body) }), {
      auth: true,
      params: idParams,
      body: patchEventBody,
      detail: { summary: 'Edit an event (organizer only)', security: [{ bearerAuth: [] }] },
    });
}
