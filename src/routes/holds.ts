import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { AppError } from '../lib/errors';
import { confirmHold, createHold, extendHold, getHold, listActiveHolds, releaseHold } from '../services/hold';
import { bodyErrors, createHoldBody, errorAnswers, heldSeatsResult, holdList, holdResult, idempotencyHeaders, idParams, seatsResult } from './schemas';

/** Holds (SPEC §8): hold → pay → confirm, or release; the sweeper ends those left alone. */
export function holdRoutes({ config, database, tokens, seatFeed, holdSweeper, metrics }: AppDeps) {
  const settings = { ttlSeconds: config.holdTtlSeconds, maxExtensions: config.holdMaxExtensions };
  /** Counts each outcome, refusals by their code. */
  async function counted<T>(success: string | ((result: T) => string), work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      metrics.holds.inc({ result: typeof success === 'string' ? success : success(result) });
      return result;
    } catch (error) {
      metrics.holds.inc({ result: error instanceof AppError ? error.code : 'error' });
      throw error;
    }
  }

  return new Elysia({ prefix: '/api/holds', tags: ['Holds'] })
    .use(authPlugin(tokens))
    .post(
      '',
      async ({ user, body, headers, status }) => {
        const request = { userId: user.id, eventId: body.eventId, quantity: body.quantity, idempotencyKey: headers['idempotency-key'] };
        const result = await counted(
          (held) => (held.replayed ? 'replayed' : 'created'),
          () => createHold(database.db, seatFeed, settings, request, holdSweeper.releaseExpired),
        );
        return status(result.replayed ? 200 : 201, { hold: result.hold, availableSeats: result.availableSeats });
      },
      {
        auth: true,
        body: createHoldBody,
        parse: 'json',
        headers: idempotencyHeaders,
        response: {
          201: heldSeatsResult.describe('Held: the seats are out of availableSeats until expiresAt'),
          200: heldSeatsResult.describe('A repeat of an earlier request with the same Idempotency-Key: the hold it made; nothing held now'),
          ...errorAnswers(...bodyErrors, 'unauthorized', 'event_not_found', 'sales_not_started', 'not_admitted', 'sold_out', 'hold_limit_reached', 'idempotency_conflict', 'database_unavailable'),
        },
        detail: { summary: 'Hold seats while paying; they come back by themselves at expiresAt' },
      },
    )
    .get('', async ({ user }) => ({ holds: await listActiveHolds(database.db, user.id) }), {
      auth: true,
      response: { 200: holdList.describe('The caller’s active holds, newest first'), ...errorAnswers('unauthorized', 'database_unavailable') },
      detail: { summary: "The caller's active holds, newest first" },
    })
    .get('/:id', async ({ user, params }) => ({ hold: await getHold(database.db, user.id, params.id) }), {
      auth: true,
      params: idParams,
      response: { 200: holdResult.describe('The hold, in any status'), ...errorAnswers('validation_error', 'unauthorized', 'hold_not_found', 'database_unavailable') },
      detail: { summary: "One of the caller's holds" },
    })
    .post(
      '/:id/confirm',
      async ({ user, params, status }) => {
        const result = await counted(
          (confirmed) => (confirmed.replayed ? 'replayed' : 'confirmed'),
          () => confirmHold(database.db, seatFeed, user.id, params.id),
        );
        return status(result.replayed ? 200 : 201, { booking: result.booking, availableSeats: result.availableSeats });
      },
      {
        auth: true,
        params: idParams,
        response: {
          201: seatsResult.describe('Confirmed: the held seats are booked'),
          200: seatsResult.describe('Confirmed before: the same booking'),
          ...errorAnswers('validation_error', 'unauthorized', 'hold_not_found', 'hold_expired', 'hold_not_active', 'database_unavailable'),
        },
        detail: { summary: 'Turn a hold into a booking' },
      },
    )
    .post(
      '/:id/extend',
      async ({ user, params }) => ({ hold: await counted('extended', () => extendHold(database.db, settings, user.id, params.id)) }),
      {
        auth: true,
        params: idParams,
        response: {
          200: holdResult.describe('Extended: expiresAt is HOLD_TTL_SECONDS from now'),
          ...errorAnswers('validation_error', 'unauthorized', 'hold_not_found', 'hold_expired', 'hold_not_active', 'hold_extension_limit', 'database_unavailable'),
        },
        detail: { summary: 'Keep the seats longer (at most HOLD_MAX_EXTENSIONS times)' },
      },
    )
    .delete(
      '/:id',
      async ({ user, params }) => counted('released', () => releaseHold(database.db, seatFeed, user.id, params.id)),
      {
        auth: true,
        params: idParams,
        response: {
          200: heldSeatsResult.describe('Released: the seats are free again'),
          ...errorAnswers('validation_error', 'unauthorized', 'hold_not_found', 'hold_expired', 'hold_not_active', 'database_unavailable'),
        },
        detail: { summary: 'Give the seats back' },
      },
    );
}
