import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { AppError } from '../lib/errors';
import { authPlugin } from '../lib/auth-plugin';
import { bookSeats, cancelBooking, getBooking, listBookings } from '../services/booking';
import { createBookingBody, idempotencyHeaders, idParams } from './schemas';

export function bookingRoutes({ database, tokens, seatFeed, metrics }: AppDeps) {
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
          });
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
        headers: idempotencyHeaders,
        detail: { summary: 'Book seats; never oversells', security: [{ bearerAuth: [] }] },
      },
    )
    .get('', async ({ user }) => ({ bookings: await listBookings(database.db, user.id) }), {
      auth: true,
      detail: { summary: "The caller's bookings, newest first", security: [{ bearerAuth: [] }] },
    })
    .get('/:id', async ({ user, params }) => ({ booking: await getBooking(database.db, user.id, params.id) }), {
      auth: true,
      params: idParams,
      detail: { summary: "One of the caller's bookings", security: [{ bearerAuth: [] }] },
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
        detail: { summary: "Cancel one of the caller's bookings", security: [{ bearerAuth: [] }] },
      },
    );
}
