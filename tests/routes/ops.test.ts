import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { login, openTestDatabase, registerUser, startTestServer, type TestServer } from '../support/server';
import { connect, type TestSocket } from '../support/ws';

/** GET /health, GET /metrics and the request log (SPEC §2 Operations, §1 "Tokens never appear in logs"). */

const logLines: string[] = [];
let database: DatabaseHandle;
let server: TestServer;
let testToken: string;

beforeAll(async () => {
  // Our own handle, so the last test can take the database away and still let afterAll stop cleanly.
  database = await openTestDatabase();
  server = await startTestServer({ database, logger: createLogger('debug', (line) => logLines.push(line)) });
  testToken = await login(server);
}, 60_000);
afterAll(async () => {
  await server.stop();
  await database.close().catch(() => {});
});

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one series, e.g. metricValue(text, 'seatwatch_bookings_total', { result: 'confirmed' }); 0 when absent. */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const seriesLabels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.keys(labels).length !== Object.keys(seriesLabels).length) continue;
    if (Object.entries(labels).every(([key, value]) => seriesLabels[key] === value)) return Number(match[3]);
  }
  return 0;
}

async function scrapeUntil(name: string, expected: number, labels: Record<string, string> = {}): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = await scrape();
    if (metricValue(text, name, labels) === expected) return text;
    if (Date.now() > deadline) throw new Error(`${name} stayed at ${metricValue(text, name, labels)}, expected ${expected}`);
    await Bun.sleep(20);
  }
}

const logEntries = () => logLines.map((line) => JSON.parse(line));

/** The request line is written after the response has gone out, so it may trail the answer a little. */
async function logEntriesFor(requestId: string | null, count = 1): Promise<any[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const entries = logEntries().filter((entry) => entry.requestId === requestId);
    if (entries.length >= count) return entries;
    if (Date.now() > deadline) throw new Error(`no log line for request ${requestId}; have ${entries.length}`);
    await Bun.sleep(10);
  }
}

describe('GET /health', () => {
  test('200 {status: "ok"} while the database answers', async () => {
    const response = await server.request('GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });
});

describe('GET /metrics', () => {
  test('Prometheus text format with every metric SPEC names', async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.headers.get('content-type')).toStartWith('text/plain; version=0.0.4');
    const text = await response.text();
    const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(types).toMatchObject({
      seatwatch_ws_connections: 'gauge',
      seatwatch_ws_subscriptions: 'gauge',
      seatwatch_ws_messages_sent_total: 'counter',
      seatwatch_bookings_total: 'counter',
      seatwatch_http_requests_total: 'counter',
      seatwatch_http_request_duration_seconds: 'histogram',
    });
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) [a-z_]+ .+$/);
      else expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$/);
    }
    // Known booking results exist from the start, so dashboards see them before the first booking.
    expect(text).toContain('seatwatch_bookings_total{result="confirmed"}');
    expect(text).toContain('seatwatch_bookings_total{result="sold_out"}');
  });

  test('10 open sockets → connections 10, subscriptions 10; all closed → both 0', async () => {
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 10; i++) sockets.push(connect(`${server.wsUrl}/ws/events/1?token=${testToken}`));
    await Promise.all(sockets.map((socket) => socket.nextOfType('subscribed')));
    const open = await scrape();
    expect(metricValue(open, 'seatwatch_ws_connections')).toBe(10);
    expect(metricValue(open, 'seatwatch_ws_subscriptions')).toBe(10);

    for (const socket of sockets) socket.close();
    await Promise.all(sockets.map((socket) => socket.closed));
    const closed = await scrapeUntil('seatwatch_ws_connections', 0);
    expect(metricValue(closed, 'seatwatch_ws_subscriptions')).toBe(0);
  });

  test('connections opened and closed concurrently, refused ones included, end at 0', async () => {
    const accepted = Array.from({ length: 15 }, (_, i) => connect(`${server.wsUrl}/ws${i % 2 ? '' : '/events/1'}?token=${testToken}`));
    const refused = [connect(`${server.wsUrl}/ws?token=not-a-token`), connect(`${server.wsUrl}/ws/events/999999?token=${testToken}`)];
    // Close half of them as soon as they are greeted, the rest once all are in.
    await Promise.all(
      accepted.map(async (socket, i) => {
        await socket.nextOfType('connection_established');
        if (i % 2) socket.close();
      }),
    );
    expect((await refused[0]!.closed).code).toBe(4401);
    expect((await refused[1]!.closed).code).toBe(4404);
    for (const socket of accepted) socket.close();
    await Promise.all(accepted.map((socket) => socket.closed));
    const text = await scrapeUntil('seatwatch_ws_connections', 0);
    expect(metricValue(text, 'seatwatch_ws_subscriptions')).toBe(0);
  });

  test('a booking → bookings_total{result="confirmed"} +1 and one message per watcher; a cancel → cancelled +1', async () => {
    const watchers = [connect(`${server.wsUrl}/ws/events/1?token=${testToken}`), connect(`${server.wsUrl}/ws/events/1?token=${testToken}`)];
    await Promise.all(watchers.map((watcher) => watcher.nextOfType('subscribed')));
    const before = await scrape();

    const booked = await server.request('POST', '/api/bookings', { token: testToken, body: { eventId: 1, quantity: 1 } });
    expect(booked.status).toBe(201);
    await Promise.all(watchers.map((watcher) => watcher.nextOfType('booking_created')));
    const after = await scrape();
    expect(metricValue(after, 'seatwatch_bookings_total', { result: 'confirmed' })).toBe(metricValue(before, 'seatwatch_bookings_total', { result: 'confirmed' }) + 1);
    expect(metricValue(after, 'seatwatch_ws_messages_sent_total')).toBe(metricValue(before, 'seatwatch_ws_messages_sent_total') + 2);

    const cancelled = await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: testToken });
    expect(cancelled.status).toBe(200);
    const afterCancel = await scrape();
    expect(metricValue(afterCancel, 'seatwatch_bookings_total', { result: 'cancelled' })).toBe(metricValue(after, 'seatwatch_bookings_total', { result: 'cancelled' }) + 1);
    for (const watcher of watchers) watcher.close();
    await Promise.all(watchers.map((watcher) => watcher.closed));
  });

  test('a refused booking counts under its reason: sold_out', async () => {
    const organizer = await registerUser(server, 'organizer');
    const created = await server.request('POST', '/api/events', {
      token: organizer.token,
      body: { name: 'Tiny', startsAt: '2030-01-01T20:00:00Z', capacity: 1, status: 'published' },
    });
    expect(created.status).toBe(201);
    const before = await scrape();
    expect((await server.request('POST', '/api/bookings', { token: testToken, body: { eventId: created.body.event.id, quantity: 2 } })).status).toBe(409);
    const after = await scrape();
    expect(metricValue(after, 'seatwatch_bookings_total', { result: 'sold_out' })).toBe(metricValue(before, 'seatwatch_bookings_total', { result: 'sold_out' }) + 1);
    expect(metricValue(after, 'seatwatch_bookings_total', { result: 'confirmed' })).toBe(metricValue(before, 'seatwatch_bookings_total', { result: 'confirmed' }));
  });

  test('http_requests_total carries the status actually sent and the route pattern, "unmatched" for unknown paths', async () => {
    const before = await scrape();
    const count = (text: string, labels: Record<string, string>) => metricValue(text, 'seatwatch_http_requests_total', labels);
    expect((await server.request('GET', '/no/such/route')).status).toBe(404);
    expect((await server.request('GET', '/api/events/123456')).status).toBe(404);
    expect((await server.request('POST', '/api/bookings', { token: testToken, body: '{not json' })).status).toBe(400);
    expect((await server.request('GET', '/api/bookings')).status).toBe(401);
    expect((await server.request('POST', '/api/auth/login', { body: { email: 'a@b.c', password: 'x'.repeat(70_000) } })).status).toBe(413);
    const after = await scrape();
    expect(count(after, { method: 'GET', route: 'unmatched', status: '404' })).toBe(count(before, { method: 'GET', route: 'unmatched', status: '404' }) + 1);
    expect(count(after, { method: 'GET', route: '/api/events/:id', status: '404' })).toBe(count(before, { method: 'GET', route: '/api/events/:id', status: '404' }) + 1);
    expect(count(after, { method: 'POST', route: '/api/bookings', status: '400' })).toBe(count(before, { method: 'POST', route: '/api/bookings', status: '400' }) + 1);
    expect(count(after, { method: 'GET', route: '/api/bookings', status: '401' })).toBe(count(before, { method: 'GET', route: '/api/bookings', status: '401' }) + 1);
    expect(count(after, { method: 'POST', route: 'unmatched', status: '413' })).toBe(count(before, { method: 'POST', route: 'unmatched', status: '413' }) + 1);
    // The unknown path itself never becomes a label.
    expect(after).not.toContain('/no/such/route');
    expect(metricValue(after, 'seatwatch_http_request_duration_seconds_count')).toBeGreaterThan(metricValue(before, 'seatwatch_http_request_duration_seconds_count'));
  });
});

describe('request log', () => {
  test('one JSON line per request with request id, method, route, status, duration; the id is the x-request-id header', async () => {
    const ok = await server.request('GET', '/api/events/1');
    const missing = await server.request('GET', '/nowhere');
    const malformed = await server.request('POST', '/api/auth/login', { body: '{"email":' });
    const echoed = await server.request('GET', '/health', { headers: { 'x-request-id': 'trace-abc.123' } });
    const unsafe = await server.request('GET', '/health', { headers: { 'x-request-id': 'has spaces "and quotes"' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
    expect(unsafe.headers.get('x-request-id')).toMatch(/^req_/);

    const cases = [
      { response: ok, method: 'GET', route: '/api/events/:id', status: 200 },
      { response: missing, method: 'GET', route: 'unmatched', status: 404 },
      { response: malformed, method: 'POST', route: '/api/auth/login', status: 400 },
      { response: echoed, method: 'GET', route: '/health', status: 200 },
    ];
    for (const { response, method, route, status } of cases) {
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      const entries = (await logEntriesFor(requestId)).filter((entry) => entry.msg === 'request');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ level: 'info', msg: 'request', method, route, status });
      expect(typeof entries[0].durationMs).toBe('number');
      expect(entries[0].durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  test('no log line holds a token, a password or a query string', async () => {
    const password = 'correct-horse-battery-staple';
    const email = `logcheck-${Date.now()}@example.com`;
    const registered = await server.request('POST', '/api/auth/register', { body: { email, password, name: 'Log Check' } });
    expect(registered.status).toBe(201);
    const token: string = registered.body.token;
    const wrongPassword = 'wrong-password-in-a-log-is-a-leak';
    expect((await server.request('POST', '/api/auth/login', { body: { email, password: wrongPassword } })).status).toBe(401);
    expect((await server.request('GET', '/api/auth/me', { token })).status).toBe(200);
    expect((await server.request('GET', `/api/events?token=${token}&limit=5`)).status).toBe(200);
    expect((await server.request('GET', `/nowhere?token=${token}`)).status).toBe(404);
    expect((await server.request('POST', '/api/bookings', { token, body: { eventId: 1 } })).status).toBe(201);

    const viaQuery = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
    await viaQuery.nextOfType('subscribed');
    const viaHeader = connect(`${server.wsUrl}/ws`, { headers: { authorization: `Bearer ${token}` } });
    await viaHeader.nextOfType('connection_established');
    const tampered = connect(`${server.wsUrl}/ws?token=${token}x`);
    expect((await tampered.closed).code).toBe(4401);
    viaQuery.close();
    viaHeader.close();
    await Promise.all([viaQuery.closed, viaHeader.closed]);

    // A last request to wait for, so the lines of everything above are in.
    const last = await server.request('GET', '/health', { headers: { 'x-request-id': 'log-check-last' } });
    await logEntriesFor(last.headers.get('x-request-id'));
    const log = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(10);
    const [header, payload, signature] = token.split('.');
    for (const secret of [token, header!, payload!, signature!, testToken, password, wrongPassword]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/bearer/i);
    expect(log).not.toContain('token=');
    for (const entry of logEntries()) {
      for (const field of ['route', 'path', 'url']) if (typeof entry[field] === 'string') expect(entry[field]).not.toContain('?');
    }
  });

  // Last: takes the database away from the server.
  test('an unexpected failure: 500 internal_error without internals; the log line has the same request id; /health turns 503', async () => {
    await database.close();
    const response = await server.request('GET', '/api/events');
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: { code: 'internal_error', message: 'Internal server error' } });
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const entries = await logEntriesFor(requestId, 2);
    expect(entries.find((entry) => entry.level === 'error')).toMatchObject({ msg: 'unexpected error', method: 'GET' });
    expect(entries.find((entry) => entry.msg === 'request')).toMatchObject({ status: 500, route: '/api/events' });

    const health = await server.request('GET', '/health');
    expect(health.status).toBe(503);
    expect(health.headers.get('x-request-id')).toBeTruthy();
  });
});
