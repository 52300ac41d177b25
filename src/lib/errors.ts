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
  | 'hold_not_found'
  | 'hold_expired'
  | 'hold_not_active'
  | 'hold_limit_reached'
  | 'hold_extension_limit'
  | 'sales_not_started'
  | 'not_admitted'
  | 'payload_too_large'
  | 'rate_limited'
  | 'database_unavailable'
  | 'internal_error';

/** The HTTP status each code is answered with. */
export const errorStatus = {
  validation_error: 400,
  bad_request: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  event_not_found: 404,
  booking_not_found: 404,
  email_taken: 409,
  sold_out: 409,
  already_cancelled: 409,
  capacity_below_booked: 409,
  idempotency_conflict: 409,
  hold_not_found: 404,
  hold_expired: 410,
  hold_not_active: 409,
  hold_limit_reached: 409,
  hold_extension_limit: 409,
  sales_not_started: 409,
  not_admitted: 403,
  payload_too_large: 413,
  rate_limited: 429,
  database_unavailable: 503,
  internal_error: 500,
} as const satisfies Record<ErrorCode, number>;

export type ErrorStatus = (typeof errorStatus)[ErrorCode];

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: FieldProblem[] } & Record<string, unknown>;
}

export class AppError extends Error {
  readonly status: ErrorStatus;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields merged into the error object, e.g. availableSeats or details. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = errorStatus[code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

export const errors = {
  validation: (details: FieldProblem[]) =>
    new AppError('validation_error', details.map((d) => `${d.field}: ${d.message}`).join('; ') || 'Invalid request', { details }),
  badRequest: (message: string) => new AppError('bad_request', message),
  unauthorized: (message = 'Missing or invalid token') => new AppError('unauthorized', message),
  /** A validly signed token whose user is not in this database (e.g. after the data was reset). */
  accountGone: () => new AppError('unauthorized', 'The account for this token no longer exists'),
  invalidCredentials: () => new AppError('invalid_credentials', 'Invalid email or password'),
  forbidden: (message = 'Only the organizer may do this') => new AppError('forbidden', message),
  notFound: (message = 'Route not found') => new AppError('not_found', message),
  eventNotFound: (eventId: number | string) => new AppError('event_not_found', `Event ${eventId} not found`),
  bookingNotFound: (bookingId: number | string) => new AppError('booking_not_found', `Booking ${bookingId} not found`),
  emailTaken: () => new AppError('email_taken', 'An account with this email already exists'),
  soldOut: (availableSeats: number) =>
    new AppError('sold_out', availableSeats === 0 ? 'Sold out' : `Only ${availableSeats} seat${availableSeats === 1 ? '' : 's'} left`, {
      availableSeats,
    }),
  alreadyCancelled: (bookingId: number) => new AppError('already_cancelled', `Booking ${bookingId} is already cancelled`),
  capacityBelowBooked: (bookedSeats: number) =>
    new AppError('capacity_below_booked', `Capacity cannot go below the ${bookedSeats} seats already booked`, { bookedSeats }),
  idempotencyConflict: () =>
    new AppError('idempotency_conflict', 'This Idempotency-Key was already used with a different request'),
  holdNotFound: (holdId: number) => new AppError('hold_not_found', `Hold ${holdId} not found`),
  holdExpired: (holdId: number) => new AppError('hold_expired', `Hold ${holdId} has expired; its seats are free again`),
  holdNotActive: (holdId: number, status: string) => new AppError('hold_not_active', `Hold ${holdId} is ${status}, not active`, { status }),
  holdLimitReached: (limit: number, heldSeats: number) =>
    new AppError('hold_limit_reached', `At most ${limit} seats held per event; you hold ${heldSeats}`, { heldSeats }),
  holdExtensionLimit: (maxExtensions: number) =>
    new AppError('hold_extension_limit', `A hold may be extended at most ${maxExtensions} time${maxExtensions === 1 ? '' : 's'}`),
  salesNotStarted: (salesStartAt: string) => new AppError('sales_not_started', `Sales open at ${salesStartAt}`, { salesStartAt }),
  /** `queue`: the caller's place in line (a PublicQueueEntry), or null when not in it. */
  notAdmitted: (queue: object | null) =>
    new AppError('not_admitted', queue ? 'Not your turn yet: wait for your admission' : 'This sale has a waiting room: join the line first', { queue }),
  payloadTooLarge: () => new AppError('payload_too_large', 'Request body too large'),
  /**
   * The database could not be reached. A change sent meanwhile may or may not have been made (the
   * connection can drop after the commit and before the answer): repeat it with the same
   * Idempotency-Key, or look before repeating.
   */
  databaseUnavailable: () =>
    new AppError('database_unavailable', 'The database is unavailable; try again shortly'),
  internal: () => new AppError('internal_error', 'Internal server error'),
};
