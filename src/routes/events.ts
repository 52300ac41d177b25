import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { createEvent, getVisibleEvent, listEvents, updateEvent } from '../services/event';
import { bodyErrors, createEventBody, errorAnswers, eventList, eventResult, idParams, listEventsQuery, patchEventBody } from './schemas';

export function eventRoutes({ database, tokens, seatFeed }: AppDeps) {
  return new Elysia({ prefix: '/api/events', tags: ['Events'] })
    .use(authPlugin(tokens))
    .get('', async ({ viewer, query }) => ({ events: await listEvents(database.db, viewer?.id ?? null, query) }), {
      optionalAuth: true,
      query: listEventsQuery,
      response: {
        200: eventList.describe('Published events, plus the caller’s own drafts when a token is sent; ordered by id'),
        ...errorAnswers('validation_error', 'unauthorized', 'database_unavailable'),
      },
      detail: { summary: "Published events, plus the caller's own drafts" },
    })
    .get('/:id', async ({ viewer, params }) => ({ event: await getVisibleEvent(database.db, params.id, viewer?.id ?? null) }), {
      optionalAuth: true,
      params: idParams,
      response: { 200: eventResult.describe('The event'), ...errorAnswers('validation_error', 'unauthorized', 'event_not_found', 'database_unavailable') },
      detail: { summary: 'One event (a draft only for its organizer)' },
    })
    .post('', async ({ user, body, status }) => status(201, { event: await createEvent(database.db, user.id, body) }), {
      auth: true,
      body: createEventBody,
      parse: 'json',
      response: { 201: eventResult.describe('Created; the caller is its organizer'), ...errorAnswers(...bodyErrors, 'unauthorized', 'database_unavailable') },
      detail: { summary: 'Create an event; the caller becomes its organizer' },
    })
    .patch('/:id', async ({ user, params, body }) => ({ event: await updateEvent(database.db, seatFeed, user.id, params.id, body) }), {
      auth: true,
      params: idParams,
      body: patchEventBody,
      parse: 'json',
      response: {
        200: eventResult.describe('Updated'),
        ...errorAnswers(...bodyErrors, 'unauthorized', 'forbidden', 'event_not_found', 'capacity_below_booked', 'database_unavailable'),
      },
      detail: { summary: 'Edit an event (organizer only)' },
    });
}
