import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { AppError } from '../lib/errors';
import { authPlugin } from '../lib/auth-plugin';
import { bookSeats, cancelBooking, getBooking, listBookings } from '../services/booking';
import { bodyErrors, bookingList, bookingResult, createBookingBody, errorAnswers, idempotencyHeaders, idParams, seatsResult } from './schemas';

export function bookingRoutes({ database, tokens, seatFeed, holdSweeper, metrics }: AppDeps) {
  return new Elysia({ prefix: '/api/bookings', tags: ['Bookings'] })
    .use(authPlugin(tokens))
    .post(
      '',
      async ({ user, body, headers, status }) => {
        try {
          const result = await bookSeats(database.db, seatFeed, {
            userId: user.id,
            eventId: body.eventId,
            quantity: body.quantity,
            idempotencyKey: headers['idempotency-key'],
          }, holdSweeper.releaseExpired);
          metrics.bookings.inc({ result: result.replayed ? 'replayed' : 'confirmed' });
          return status(result.replayed ? 200 : 201, { booking: result.booking, availableSeats: result.availableSeats });
        } catch (error) {
          metrics.bookings.inc({ result: error instanceof AppError ? error.code : 'error' });
          throw error;
        }
      },
      {
        auth: true,
        body: createBookingBody,
        parse: 'json',
        headers: idempotencyHeaders,
        response: {
          201: seatsResult.describe('Booked'),
          200: seatsResult.describe('A repeat of an earlier request with the same Idempotency-Key: the original answer; nothing booked'),
          ...errorAnswers(...bodyErrors, 'unauthorized', 'event_not_found', 'sales_not_started', 'not_admitted', 'sold_out', 'idempotency_conflict', 'database_unavailable'),
        },
        detail: { summary: 'Book seats; never oversells' },
      },
    )
    .get('', async ({ user }) => ({ bookings: await listBookings(database.db, user.id) }), {
      auth: true,
      response: { 200: bookingList.describe('The caller’s bookings, newest first'), ...errorAnswers('unauthorized', 'database_unavailable') },
      detail: { summary: "The caller's bookings, newest first" },
    })
    .get('/:id', async ({ user, params }) => ({ booking: await getBooking(database.db, user.id, params.id) }), {
      auth: true,
      params: idParams,
      response: { 200: bookingResult.describe('The booking'), ...errorAnswers('validation_error', 'unauthorized', 'booking_not_found', 'database_unavailable') },
      detail: { summary: "One of the caller's bookings" },
    })
    .delete(
      '/:id',
      async ({ user, params }) => {
        const result = await cancelBooking(database.db, seatFeed, user.id, params.id);
        metrics.bookings.inc({ result: 'cancelled' });
        return result;
      },
      {
        auth: true,
        params: idParams,
        response: {
          200: seatsResult.describe('Cancelled; the seats are free again'),
          ...errorAnswers('validation_error', 'unauthorized', 'booking_not_found', 'already_cancelled', 'database_unavailable'),
        },
        detail: { summary: "Cancel one of the caller's bookings" },
      },
    );
}
