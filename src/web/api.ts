/** The REST API (SPEC §2) as the page uses it: JSON in and out, the session's bearer token. */
import type { PublicUser } from '../services/auth';
import type { PublicBooking } from '../services/booking';
import type { PublicEvent } from '../services/event';

export type { PublicBooking, PublicEvent, PublicUser };

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

type Method = 'GET' | 'POST' | 'DELETE';

/** crypto.randomUUID exists only in secure contexts; the page may be opened over plain http on a LAN. */
function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function createApi(currentToken: () => string | null) {
  async function request<T>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const token = currentToken();
    const init: RequestInit = { method, headers: { accept: 'application/json', ...headers } };
    const requestHeaders = init.headers as Record<string, string>;
    if (token) requestHeaders.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      requestHeaders['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'network_error', 'The server cannot be reached right now. Try again in a moment.');
    }
    const payload: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (payload as { error?: { code?: string; message?: string } & Record<string, unknown> } | null)?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `Request failed (${response.status})`, error ?? {});
    }
    return payload as T;
  }

  return {
    login: (email: string, password: string) => request<{ token: string; user: PublicUser }>('POST', '/api/auth/login', { email, password }),
    register: (email: string, password: string) => request<{ token: string; user: PublicUser }>('POST', '/api/auth/register', { email, password }),
    me: () => request<{ user: PublicUser }>('GET', '/api/auth/me'),
    events: () => request<{ events: PublicEvent[] }>('GET', '/api/events'),
    bookings: () => request<{ bookings: PublicBooking[] }>('GET', '/api/bookings'),
    // A fresh key per click: a retried request can never book twice.
    book: (eventId: number, quantity: number) =>
      request<{ booking: PublicBooking; availableSeats: number }>('POST', '/api/bookings', { eventId, quantity }, { 'idempotency-key': idempotencyKey() }),
    cancel: (bookingId: number) => request<{ booking: PublicBooking; availableSeats: number }>('DELETE', `/api/bookings/${bookingId}`),
  };
}

export type Api = ReturnType<typeof createApi>;
