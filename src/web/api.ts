/** The REST API (SPEC §2) as the page uses it: Eden Treaty, typed from the app's own routes. */
import { treaty } from '@elysiajs/eden';
import type { App } from '../app';
import type { WS_LIMITS } from '../protocol';
import type { PublicUser } from '../services/auth';
import type { PublicBooking } from '../services/booking';
import type { PublicEvent } from '../services/event';
import type { PublicHold } from '../services/hold';
import type { PublicQueueEntry } from '../services/queue';

export type { PublicBooking, PublicEvent, PublicHold, PublicQueueEntry, PublicUser };

/** The spec's error body, thrown as one type. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** crypto.randomUUID exists only in secure contexts; the page may be opened over plain http on a LAN. */
function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The page watches every event it lists on one socket, so it lists no more than a socket may
 * watch. (Eden types a query as the route's schema outputs it, defaults applied: both are sent.)
 */
const eventsPage = { limit: 100, offset: 0 } as const satisfies { limit: (typeof WS_LIMITS)['maxSubscriptions']; offset: number };

type Answer<Data> = { data: Data; error: null } | { data: null; error: { status: unknown; value: unknown }; status: number };

/** Eden's answer as the data, or the error body thrown as an ApiError. */
async function dataOf<Data>(request: () => Promise<Answer<Data>>): Promise<Data> {
  let answer: Answer<Data>;
  try {
    answer = await request();
  } catch {
    throw new ApiError(0, 'network_error', 'The server cannot be reached right now. Try again in a moment.');
  }
  if (answer.error === null) return answer.data;
  const error = (answer.error.value as { error?: { code?: unknown; message?: unknown } & Record<string, unknown> } | null)?.error;
  const message = typeof error?.message === 'string' ? error.message : `Request failed (${answer.status})`;
  throw new ApiError(answer.status, typeof error?.code === 'string' ? error.code : 'http_error', message, error ?? {});
}

export function createApi(currentToken: () => string | null) {
  const { api } = treaty<App>(location.origin, {
    // Times stay ISO strings, as the API sends them.
    parseDate: false,
    headers: () => {
      const token = currentToken();
      return token ? { authorization: `Bearer ${token}` } : undefined;
    },
  });

  return {
    login: (email: string, password: string) => dataOf(() => api.auth.login.post({ email, password })),
    register: (email: string, password: string) => dataOf(() => api.auth.register.post({ email, password })),
    me: () => dataOf(() => api.auth.me.get()),
    refresh: () => dataOf(() => api.auth.refresh.post()),
    events: () => dataOf(() => api.events.get({ query: eventsPage })),
    bookings: () => dataOf(() => api.bookings.get()),
    // A fresh key per click: a retried request can never book twice.
    book: (eventId: number, quantity: number) =>
      dataOf(() => api.bookings.post({ eventId, quantity }, { headers: { 'idempotency-key': idempotencyKey() } })),
    cancel: (bookingId: number) => dataOf(() => api.bookings({ id: bookingId }).delete()),
    holds: () => dataOf(() => api.holds.get()),
    holdById: (holdId: number) => dataOf(() => api.holds({ id: holdId }).get()),
    // As for Book: a fresh key per click, so a retried request never holds twice.
    hold: (eventId: number, quantity: number) =>
      dataOf(() => api.holds.post({ eventId, quantity }, { headers: { 'idempotency-key': idempotencyKey() } })),
    confirmHold: (holdId: number) => dataOf(() => api.holds({ id: holdId }).confirm.post()),
    extendHold: (holdId: number) => dataOf(() => api.holds({ id: holdId }).extend.post()),
    releaseHold: (holdId: number) => dataOf(() => api.holds({ id: holdId }).delete()),
    // Joining again answers the place already held, so a retried join never queues twice.
    joinQueue: (eventId: number) => dataOf(() => api.events({ id: eventId }).queue.post()),
    queue: (eventId: number) => dataOf(() => api.events({ id: eventId }).queue.get()),
    leaveQueue: (eventId: number) => dataOf(() => api.events({ id: eventId }).queue.delete()),
  };
}

export type Api = ReturnType<typeof createApi>;
