/** The one error type: services throw it, the app's single onError turns it into SPEC's JSON body. */

export type ErrorCode =
  | 'validation_error'
  | 'bad_request'
  | 'unauthorized'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'event_not_found'
  | 'booking_not_found'
  | 'email_taken'
  | 'sold_out'
  | 'already_cancelled'
  | 'capacity_below_booked'
  | 'idempotency_conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'database_unavailable'
  | 'internal_error';

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: FieldProblem[] } & Record<string, unknown>;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra fields merged into the error object, e.g. availableSeats or details. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

export const errors = {
  validation: (details: FieldProblem[]) =>
    new AppError(400, 'validation_error', details.map((d) => `${d.field}: ${d.message}`).join('; ') || 'Invalid request', { details }),
  badRequest: (message: string) => new AppError(400, 'bad_request', message),
  unauthorized: (message = 'Missing or invalid token') => new AppError(401, 'unauthorized', message),
  /** A validly signed token whose user is not in this database (e.g. after the data was reset). */
  accountGone: () => new AppError(401, 'unauthorized', 'The account for this token no longer exists'),
  invalidCredentials: () => new AppError(401, 'invalid_credentials', 'Invalid email or password'),
  forbidden: (message = 'Only the organizer may do this') => new AppError(403, 'forbidden', message),
  notFound: (message = 'Route not found') => new AppError(404, 'not_found', message),
  eventNotFound: (eventId: number | string) => new AppError(404, 'event_not_found', `Event ${eventId} not found`),
  bookingNotFound: (bookingId: number | string) => new AppError(404, 'booking_not_found', `Booking ${bookingId} not found`),
  emailTaken: () => new AppError(409, 'email_taken', 'An account with this email already exists'),
  soldOut: (availableSeats: number) =>
    new AppError(409, 'sold_out', availableSeats === 0 ? 'Sold out' : `Only ${availableSeats} seat${availableSeats === 1 ? '' : 's'} left`, {
      availableSeats,
    }),
  alreadyCancelled: (bookingId: number) => new AppError(409, 'already_cancelled', `Booking ${bookingId} is already cancelled`),
  capacityBelowBooked: (bookedSeats: number) =>
    new AppError(409, 'capacity_below_booked', `Capacity cannot go below the ${bookedSeats} seats already booked`, { bookedSeats }),
  idempotencyConflict: () =>
    new AppError(409, 'idempotency_conflict', 'This Idempotency-Key was already used with a different request'),
  payloadTooLarge: () => new AppError(413, 'payload_too_large', 'Request body too large'),
  /**
   * The database could not be reached. A change sent meanwhile may or may not have been made (the
   * connection can drop after the commit and before the answer): repeat it with the same
   * Idempotency-Key, or look before repeating.
   */
  databaseUnavailable: () =>
    new AppError(503, 'database_unavailable', 'The database is unavailable; try again shortly'),
  internal: () => new AppError(500, 'internal_error', 'Internal server error'),
};
