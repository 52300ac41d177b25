/** The few REST calls the scenarios make, against a server's base URL. */

export interface ApiResponse {
  status: number;
  body: any;
}

export async function apiRequest(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(baseUrl + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}

async function expectStatus(promise: Promise<ApiResponse>, status: number, what: string): Promise<any> {
  const response = await promise;
  if (response.status !== status) throw new Error(`${what}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function login(baseUrl: string, email: string): Promise<string> {
  const body = await expectStatus(apiRequest(baseUrl, 'POST', '/api/auth/login', { body: { email, password: 'password' } }), 200, `login ${email}`);
  return body.token;
}

/** The seeded demo organizer (SEED_DEMO=true in every bench server). */
export const loginDemoUser = (baseUrl: string) => login(baseUrl, 'test@example.com');

/**
 * Tokens for the bookers: the two seeded demo users, shared round-robin. All bookings contend
 * on the event's row whoever makes them, and registering users would cost an argon2 hash each.
 */
export const bookerTokens = (baseUrl: string) => Promise.all([login(baseUrl, 'test@example.com'), login(baseUrl, 'alice@example.com')]);

export interface BenchEvent {
  id: number;
  capacity: number;
  availableSeats: number;
  version: number;
}

/** `fields`: more of the event's fields (onsale: its waiting room). */
export async function createEvent(baseUrl: string, token: string, capacity: number, name = 'Bench on-sale', fields: Record<string, unknown> = {}): Promise<BenchEvent> {
  const startsAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const body = await expectStatus(
    apiRequest(baseUrl, 'POST', '/api/events', { token, body: { name, venue: 'Bench Arena', startsAt, capacity, status: 'published', ...fields } }),
    201,
    'create event',
  );
  return body.event;
}

/** The organizer's edit of an event: its new state. */
export async function patchEvent(baseUrl: string, token: string, eventId: number, patch: Record<string, unknown>): Promise<BenchEvent & Record<string, unknown>> {
  const body = await expectStatus(apiRequest(baseUrl, 'PATCH', `/api/events/${eventId}`, { token, body: patch }), 200, 'edit event');
  return body.event;
}

/** A counter without labels from the server's /metrics (0 when absent). */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{\\})? (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

export async function getEvent(baseUrl: string, eventId: number): Promise<BenchEvent> {
  const body = await expectStatus(apiRequest(baseUrl, 'GET', `/api/events/${eventId}`), 200, 'get event');
  return body.event;
}

/**
 * Tokens for `count` new users (holds: a user may hold at most 10 seats of an event), registered
 * `concurrency` at a time; each costs the server an argon2 hash.
 */
export async function registerUsers(baseUrl: string, count: number, concurrency = 8): Promise<string[]> {
  const tokens: string[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      const index = next++;
      const body = await expectStatus(
        apiRequest(baseUrl, 'POST', '/api/auth/register', { body: { email: `holder-${index}@bench.example`, password: 'password', name: `Holder ${index}` } }),
        201,
        `register holder ${index}`,
      );
      tokens[index] = body.token;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return tokens;
}
