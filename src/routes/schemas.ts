import { z } from 'zod';
import { AppError, errors, errorStatus, type ErrorBody, type ErrorCode, type ErrorStatus } from '../lib/errors';
import { isStorableInstant, isStorableText, MAX_ROW_ID, STORABLE_INSTANT_RULE, STORABLE_TEXT_RULE } from '../lib/storable';
import type { PublicUser } from '../services/auth';
import type { PublicBooking } from '../services/booking';
import type { PublicEvent } from '../services/event';
import type { PublicHold } from '../services/hold';
import type { PublicQueueEntry } from '../services/queue';

/**
 * The REST contract: what each route accepts and answers. Routes validate with these, the
 * OpenAPI document is generated from them, and Eden types the page's calls from them.
 *
 * Requests: every string that reaches the database is `storableText`, every time
 * `storableInstant` and every id `rowId`, so what passes here PostgreSQL also accepts
 * (src/lib/storable.ts).
 */

const storableText = () => z.string().refine(isStorableText, STORABLE_TEXT_RULE);

/** An ISO 8601 time with an offset, as a Date PostgreSQL can store. */
const storableInstant = () =>
  z.iso
    .datetime({ offset: true })
    .transform((text) => new Date(text))
    .refine(isStorableInstant, STORABLE_INSTANT_RULE);

const rowId = () => z.number().int().positive().max(MAX_ROW_ID);

export const positiveId = z.coerce.number().int().positive().max(MAX_ROW_ID);

export const idParams = z.object({ id: positiveId });

export const registerBody = z.object({
  email: z.email().max(320).refine(isStorableText, STORABLE_TEXT_RULE),
  password: z.string().min(8).max(128),
  name: storableText().trim().max(200).nullish(),
});

export const loginBody = z.object({
  email: storableText().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const eventFields = {
  name: storableText().trim().min(1).max(200),
  description: storableText().max(10_000),
  venue: storableText().max(200),
  startsAt: storableInstant(),
  capacity: z.number().int().min(1).max(1_000_000),
  status: z.enum(['draft', 'published']),
  salesStartAt: storableInstant().nullable(),
  queueRatePerMinute: z.number().int().min(1).max(100_000).nullable(),
  admissionSeconds: z.number().int().min(30).max(7_200),
};

export const createEventBody = z.object({
  name: eventFields.name,
  description: eventFields.description.optional(),
  venue: eventFields.venue.optional(),
  startsAt: eventFields.startsAt,
  capacity: eventFields.capacity,
  status: eventFields.status.optional(),
  salesStartAt: eventFields.salesStartAt.optional(),
  queueRatePerMinute: eventFields.queueRatePerMinute.optional(),
  admissionSeconds: eventFields.admissionSeconds.optional(),
});

export const patchEventBody = z
  .object(eventFields)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, { message: 'at least one field to change' });

export const listEventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
});

export const createBookingBody = z.object({
  eventId: rowId(),
  quantity: z.number().int().min(1).max(10).default(1),
});

export const createHoldBody = createBookingBody;

export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(255).optional(),
});

// Responses. An `id` makes a schema one named component of the OpenAPI document; `satisfies`
// keeps each in step with the type its service returns (a field missing here would be stripped).

const dateTime = () => z.string().meta({ format: 'date-time' });

export const user = z
  .object({ id: z.number().int(), email: z.string(), name: z.string().nullable() })
  .meta({ id: 'User' }) satisfies z.ZodType<PublicUser>;

export const event = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string(),
    venue: z.string(),
    startsAt: dateTime(),
    capacity: z.number().int(),
    availableSeats: z.number().int().meta({ description: 'capacity − booked − held: never below 0' }),
    heldSeats: z.number().int().meta({ description: 'Seats in active holds (neither available nor booked)' }),
    status: z.enum(['draft', 'published']),
    organizerId: z.number().int(),
    version: z.number().int().meta({ description: 'Bumped by one with every seat change; orders the WebSocket feed' }),
    salesStartAt: dateTime().nullable().meta({ description: 'Nothing sells before it (null: on sale now); early joiners of the line are drawn by lottery at it' }),
    queueRatePerMinute: z.number().int().nullable().meta({ description: 'The waiting room admits this many a minute (null: no waiting room)' }),
    admissionSeconds: z.number().int().meta({ description: 'How long an admitted user may hold and book' }),
  })
  .meta({ id: 'Event' }) satisfies z.ZodType<PublicEvent>;

export const queueEntry = z
  .object({
    eventId: z.number().int(),
    ticket: z.number().int().nullable().meta({ description: 'The place in line; null until the lottery at salesStartAt' }),
    position: z.number().int().nullable().meta({ description: 'ticket − servingThrough while waiting, 0 once admitted; null until the lottery' }),
    status: z.enum(['waiting', 'admitted', 'expired']),
    admittedAt: dateTime().nullable().meta({ description: 'When the ticket is (or was) admitted, at the current pace' }),
    admissionExpiresAt: dateTime().nullable().meta({ description: 'admittedAt + admissionSeconds: holds and bookings are open to the caller until then' }),
    estimatedWaitSeconds: z.number().int().nullable().meta({ description: 'Seconds until admittedAt; 0 once admitted; null until the lottery' }),
  })
  .meta({ id: 'QueueEntry' }) satisfies z.ZodType<PublicQueueEntry>;

export const booking = z
  .object({
    id: z.number().int(),
    eventId: z.number().int(),
    userId: z.number().int(),
    quantity: z.number().int(),
    status: z.enum(['confirmed', 'cancelled']),
    createdAt: dateTime(),
    cancelledAt: dateTime().nullable(),
  })
  .meta({ id: 'Booking' }) satisfies z.ZodType<PublicBooking>;

export const hold = z
  .object({
    id: z.number().int(),
    eventId: z.number().int(),
    userId: z.number().int(),
    quantity: z.number().int(),
    status: z.enum(['active', 'confirmed', 'released', 'expired']),
    expiresAt: dateTime().meta({ description: 'When the seats come back unless confirmed, by the database clock' }),
    createdAt: dateTime(),
    extensions: z.number().int().meta({ description: 'Times extended so far (at most HOLD_MAX_EXTENSIONS)' }),
    bookingId: z.number().int().nullable().meta({ description: 'The booking it became, once confirmed' }),
  })
  .meta({ id: 'Hold' }) satisfies z.ZodType<PublicHold>;

export const authResult = z.object({
  token: z.string().meta({ description: 'JWT for `Authorization: Bearer …` and `?token=` on WebSockets' }),
  user,
});

export const userResult = z.object({ user });
export const eventResult = z.object({ event });
export const eventList = z.object({ events: z.array(event) });
export const bookingResult = z.object({ booking });
export const bookingList = z.object({ bookings: z.array(booking) });
export const seatsResult = z.object({ booking, availableSeats: z.number().int() });
export const holdResult = z.object({ hold });
export const holdList = z.object({ holds: z.array(hold) });
export const queueResult = z.object({ queue: queueEntry.nullable() });
export const heldSeatsResult = z.object({ hold, availableSeats: z.number().int() });
export const health = (status: 'ok' | 'unavailable') => z.object({ status: z.literal(status) });

const errorBody = z
  .object({
    // Open: an error may carry fields of its own (availableSeats, bookedSeats, details).
    error: z.looseObject({
      code: z.string().meta({ description: 'Machine-readable; one of the codes listed on each response' }),
      message: z.string().meta({ description: 'For people; wording may change' }),
      details: z
        .array(z.object({ field: z.string(), message: z.string() }))
        .optional()
        .meta({ description: 'validation_error only: one entry per field problem' }),
      availableSeats: z.number().int().optional().meta({ description: 'sold_out only: seats left' }),
      bookedSeats: z.number().int().optional().meta({ description: 'capacity_below_booked only: seats already booked' }),
      heldSeats: z.number().int().optional().meta({ description: 'hold_limit_reached only: seats the caller already holds on the event' }),
      salesStartAt: dateTime().optional().meta({ description: 'sales_not_started only: when sales open' }),
      queue: queueEntry.nullable().optional().meta({ description: 'not_admitted only: the caller’s place in line, or null when not in it' }),
    }),
  })
  .meta({ id: 'ErrorBody' });

/** One real body per code, made by the factories the services throw with. */
const errorExamples: Record<ErrorCode, AppError> = {
  validation_error: errors.validation([{ field: 'quantity', message: 'Too big: expected number to be <=10' }]),
  bad_request: errors.badRequest('Malformed request body: expected valid JSON'),
  unauthorized: errors.unauthorized(),
  invalid_credentials: errors.invalidCredentials(),
  forbidden: errors.forbidden(),
  not_found: errors.notFound('No route for GET /api/nothing'),
  event_not_found: errors.eventNotFound(42),
  booking_not_found: errors.bookingNotFound(7),
  email_taken: errors.emailTaken(),
  sold_out: errors.soldOut(2),
  already_cancelled: errors.alreadyCancelled(7),
  capacity_below_booked: errors.capacityBelowBooked(12),
  idempotency_conflict: errors.idempotencyConflict(),
  hold_not_found: errors.holdNotFound(7),
  hold_expired: errors.holdExpired(7),
  hold_not_active: errors.holdNotActive(7, 'released'),
  hold_limit_reached: errors.holdLimitReached(10, 8),
  hold_extension_limit: errors.holdExtensionLimit(2),
  sales_not_started: errors.salesNotStarted('2026-12-05T10:00:00.000Z'),
  not_admitted: errors.notAdmitted({
    eventId: 1,
    ticket: 1500,
    position: 300,
    status: 'waiting',
    admittedAt: '2026-12-05T10:00:15.000Z',
    admissionExpiresAt: '2026-12-05T10:10:15.000Z',
    estimatedWaitSeconds: 3,
  } satisfies PublicQueueEntry),
  payload_too_large: errors.payloadTooLarge(),
  rate_limited: new AppError('rate_limited', 'Too many requests'),
  database_unavailable: errors.databaseUnavailable(),
  internal_error: errors.internal(),
};

const alwaysAnswered = ['payload_too_large', 'internal_error'] as const;
type AlwaysAnswered = (typeof alwaysAnswered)[number];

/** The codes a JSON body brings with it (besides payload_too_large, which any request may get). */
export const bodyErrors = ['bad_request', 'validation_error'] as const satisfies ErrorCode[];

/**
 * A route's error answers, by status: the error body with `code` narrowed to the route's codes at
 * that status, an example of each. Any request may be refused as too large before routing
 * (createApp) or fail unexpectedly, so payload_too_large and internal_error are always there.
 */
export function errorAnswers<const Codes extends ErrorCode[]>(...codes: Codes) {
  const byStatus = new Map<ErrorStatus, ErrorCode[]>();
  for (const code of new Set<ErrorCode>([...codes, ...alwaysAnswered])) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const answers: Partial<Record<ErrorStatus, z.ZodType<ErrorBody>>> = {};
  for (const [status, statusCodes] of byStatus) {
    answers[status] = z.intersection(errorBody, z.object({ error: z.object({ code: z.enum(statusCodes) }) })).meta({
      description: statusCodes.map((code) => `\`${code}\``).join(', '),
      examples: statusCodes.map((code) => errorExamples[code].toBody()),
    });
  }
  // Exactly the statuses of these codes, as the loop above filled them in.
  return answers as { [Status in (typeof errorStatus)[Codes[number] | AlwaysAnswered]]: z.ZodType<ErrorBody> };
}
