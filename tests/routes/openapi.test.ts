import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enumToOpenApi, nullToOpenApi } from '@elysiajs/openapi/openapi';
import { z } from 'zod';
import { createBookingBody, createEventBody, loginBody, patchEventBody, registerBody } from '../../src/routes/schemas';
import { startTestServer, type TestServer } from '../support/server';

/** GET /openapi/json and GET /openapi (SPEC §2 Operations). */

let server: TestServer;
let documentText: string;
let doc: any;

beforeAll(async () => {
  server = await startTestServer({ seed: false });
  const response = await fetch(`http://127.0.0.1:${server.port}/openapi/json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toStartWith('application/json');
  documentText = await response.text();
  doc = JSON.parse(documentText);
}, 60_000);
afterAll(() => server.stop());

/** Every REST route of SPEC §2 plus Operations, with the error codes SPEC gives each (besides internal_error). */
const specRoutes: Record<string, { auth: 'none' | 'optional' | 'bearer'; success: number[]; errors: Record<string, number> }> = {
  'POST /api/auth/register': { auth: 'none', success: [201], errors: { validation_error: 400, bad_request: 400, email_taken: 409, payload_too_large: 413 } },
  'POST /api/auth/login': { auth: 'none', success: [200], errors: { validation_error: 400, bad_request: 400, invalid_credentials: 401 } },
  'GET /api/auth/me': { auth: 'bearer', success: [200], errors: { unauthorized: 401 } },
  'POST /api/auth/refresh': { auth: 'bearer', success: [200], errors: { unauthorized: 401 } },
  'GET /api/events': { auth: 'optional', success: [200], errors: { validation_error: 400, unauthorized: 401 } },
  'GET /api/events/{id}': { auth: 'optional', success: [200], errors: { event_not_found: 404 } },
  'POST /api/events': { auth: 'bearer', success: [201], errors: { validation_error: 400, unauthorized: 401 } },
  'PATCH /api/events/{id}': {
    auth: 'bearer',
    success: [200],
    errors: { validation_error: 400, unauthorized: 401, forbidden: 403, event_not_found: 404, capacity_below_booked: 409 },
  },
  'POST /api/bookings': {
    auth: 'bearer',
    success: [201, 200],
    errors: { validation_error: 400, unauthorized: 401, event_not_found: 404, sold_out: 409, idempotency_conflict: 409, payload_too_large: 413 },
  },
  'GET /api/bookings': { auth: 'bearer', success: [200], errors: { unauthorized: 401 } },
  'GET /api/bookings/{id}': { auth: 'bearer', success: [200], errors: { unauthorized: 401, booking_not_found: 404 } },
  'DELETE /api/bookings/{id}': { auth: 'bearer', success: [200], errors: { unauthorized: 401, booking_not_found: 404, already_cancelled: 409 } },
  'POST /api/holds': {
    auth: 'bearer',
    success: [201, 200],
    errors: { validation_error: 400, unauthorized: 401, event_not_found: 404, sold_out: 409, hold_limit_reached: 409, idempotency_conflict: 409 },
  },
  'GET /api/holds': { auth: 'bearer', success: [200], errors: { unauthorized: 401 } },
  'GET /api/holds/{id}': { auth: 'bearer', success: [200], errors: { unauthorized: 401, hold_not_found: 404 } },
  'POST /api/holds/{id}/confirm': { auth: 'bearer', success: [201, 200], errors: { unauthorized: 401, hold_not_found: 404, hold_expired: 410, hold_not_active: 409 } },
  'POST /api/holds/{id}/extend': {
    auth: 'bearer',
    success: [200],
    errors: { unauthorized: 401, hold_not_found: 404, hold_expired: 410, hold_not_active: 409, hold_extension_limit: 409 },
  },
  'DELETE /api/holds/{id}': { auth: 'bearer', success: [200], errors: { unauthorized: 401, hold_not_found: 404, hold_expired: 410, hold_not_active: 409 } },
  // Every request's size is checked before routing, bodiless routes included.
  'GET /health': { auth: 'none', success: [200, 503], errors: { payload_too_large: 413 } },
  'GET /metrics': { auth: 'none', success: [200], errors: { payload_too_large: 413 } },
};

const projectRoot = join(import.meta.dir, '../..');
const redoclyBinary = join(projectRoot, 'node_modules/.bin/redocly');
const redoclyConfig = join(projectRoot, 'redocly.yaml');

/** A GET with a body (fetch refuses to send one), answered before any of it is read. */
function getWithBody(path: string, bodyBytes: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers: { 'content-length': String(bodyBytes) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    outgoing.on('error', reject);
    outgoing.end('x'.repeat(bodyBytes));
  });
}

const operation = (key: string) => {
  const [method, path] = key.split(' ') as [string, string];
  return doc.paths[path]?.[method.toLowerCase()];
};

/** The codes an error response documents, read from its schema's enum. */
const documentedCodes = (response: any): string[] => response?.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum ?? [];

describe('GET /openapi/json', () => {
  test('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe('Seatwatch API');
    expect(typeof doc.info.version).toBe('string');
  });

  test('names the server it was fetched from in `servers`, under the name the client used', async () => {
    expect(doc.servers).toEqual([{ url: `http://127.0.0.1:${server.port}`, description: 'This server' }]);
    const byName = await fetch(`http://127.0.0.1:${server.port}/openapi/json`, { headers: { host: `localhost:${server.port}` } });
    expect((await byName.json()).servers).toEqual([{ url: `http://localhost:${server.port}`, description: 'This server' }]);
  });

  test('passes `redocly lint` (recommended rules, redocly.yaml) with no error and no warning', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'seatwatch-openapi-'));
    try {
      const file = join(directory, 'openapi.json');
      writeFileSync(file, documentText);
      // Run by the Bun running this test; telemetry off (redocly.yaml too) and no update check, so nothing leaves the machine.
      const lint = Bun.spawn([process.execPath, redoclyBinary, 'lint', file, '--config', redoclyConfig, '--format=json'], {
        cwd: directory,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
        stdout: 'pipe',
        stderr: 'pipe',
        timeout: 45_000,
      });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(lint.stdout).text(), new Response(lint.stderr).text(), lint.exited]);
      const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };
      const problems = report.problems.map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`);
      expect({ problems, totals: report.totals, exitCode }).toEqual({ problems: [], totals: expect.objectContaining({ errors: 0, warnings: 0 }), exitCode: 0 });
      expect(stderr).toContain('validated');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 60_000);

  test('lists every REST route of SPEC §2 plus /health and /metrics, and nothing internal', () => {
    for (const key of Object.keys(specRoutes)) expect({ key, documented: Boolean(operation(key)) }).toEqual({ key, documented: true });
    const paths = Object.keys(doc.paths);
    expect(paths.filter((path) => path.startsWith('/ws') || path.startsWith('/openapi'))).toEqual([]);
  });

  test('request bodies are the zod schemas the routes validate with', () => {
    // As the client sends them, in the plugin's OpenAPI 3.1 spelling (nullable as `type: [x, "null"]`).
    const asInput = (schema: z.ZodType) => {
      const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
      const { $schema: _dialect, ...rest } = nullToOpenApi(enumToOpenApi(jsonSchema as never), '3.1.0') as Record<string, unknown>;
      return rest;
    };
    const bodies: [string, z.ZodType][] = [
      ['POST /api/auth/register', registerBody],
      ['POST /api/auth/login', loginBody],
      ['POST /api/events', createEventBody],
      ['PATCH /api/events/{id}', patchEventBody],
      ['POST /api/bookings', createBookingBody],
    ];
    for (const [key, schema] of bodies) {
      const requestBody = operation(key).requestBody;
      expect(Object.keys(requestBody.content)).toEqual(['application/json']);
      expect(requestBody.content['application/json'].schema).toEqual(asInput(schema));
    }
    // Limits a client needs, straight from the schemas.
    const bookingBody = operation('POST /api/bookings').requestBody.content['application/json'].schema;
    expect(bookingBody.required).toEqual(['eventId']);
    expect(bookingBody.properties.quantity).toMatchObject({ minimum: 1, maximum: 10, default: 1 });
    expect(operation('POST /api/auth/register').requestBody.content['application/json'].schema.properties.password).toMatchObject({ minLength: 8, maxLength: 128 });
  });

  test('path ids, list paging and Idempotency-Key are documented parameters', () => {
    for (const key of ['GET /api/events/{id}', 'PATCH /api/events/{id}', 'GET /api/bookings/{id}', 'DELETE /api/bookings/{id}']) {
      expect(operation(key).parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path', required: true }));
    }
    const listParameters = operation('GET /api/events').parameters;
    expect(listParameters).toContainEqual(expect.objectContaining({ name: 'limit', in: 'query', required: false, schema: expect.objectContaining({ maximum: 500, default: 100 }) }));
    expect(listParameters).toContainEqual(expect.objectContaining({ name: 'offset', in: 'query' }));
    // Header names are case-insensitive (RFC 9110, and OpenAPI says so of header parameters).
    const idempotencyKey = operation('POST /api/bookings').parameters.find((parameter: { name: string }) => parameter.name.toLowerCase() === 'idempotency-key');
    expect(idempotencyKey).toMatchObject({ in: 'header', required: false, schema: expect.objectContaining({ minLength: 1, maxLength: 255 }) });
  });

  test('every route documents its success responses and each error code SPEC gives it, with the error body schema', () => {
    for (const [key, expected] of Object.entries(specRoutes)) {
      const responses = operation(key).responses;
      for (const status of expected.success) expect({ key, status, documented: Boolean(responses[String(status)]) }).toEqual({ key, status, documented: true });
      // Every /api route reads or writes the database, so each may answer 503 database_unavailable.
      const always = key.includes(' /api/') ? { database_unavailable: 503, internal_error: 500 } : { internal_error: 500 };
      for (const [code, status] of Object.entries({ ...expected.errors, ...always })) {
        const response = responses[String(status)];
        expect({ key, code, status, documented: documentedCodes(response).includes(code) }).toEqual({ key, code, status, documented: true });
        expect(response.content['application/json'].schema.allOf[0]).toEqual({ $ref: '#/components/schemas/ErrorBody' });
        const examples: { error: { code: string } }[] = response.content['application/json'].schema.examples;
        expect({ key, code, example: examples.some((example) => example.error.code === code) }).toEqual({ key, code, example: true });
      }
    }
    const errorBody = doc.components.schemas.ErrorBody;
    expect(errorBody.required).toEqual(['error']);
    expect(errorBody.properties.error.required).toEqual(['code', 'message']);
    expect(Object.keys(errorBody.properties.error.properties)).toEqual(expect.arrayContaining(['code', 'message', 'details', 'availableSeats']));
    // SPEC's own example body.
    expect(operation('POST /api/bookings').responses['409'].content['application/json'].schema.examples).toContainEqual({
      error: { code: 'sold_out', message: 'Only 2 seats left', availableSeats: 2 },
    });
  });

  test('bearer auth: a bearerAuth scheme, required where SPEC says "signed in", optional on event reads', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    for (const [key, expected] of Object.entries(specRoutes)) {
      const security = operation(key).security;
      // Said outright (an empty list), not left out.
      if (expected.auth === 'none') expect({ key, security }).toEqual({ key, security: [] });
      if (expected.auth === 'bearer') expect({ key, security }).toEqual({ key, security: [{ bearerAuth: [] }] });
      if (expected.auth === 'optional') expect({ key, security }).toEqual({ key, security: [{}, { bearerAuth: [] }] });
    }
  });

  test('success bodies reference the User, Event, Booking and Hold schemas with SPEC fields; every $ref resolves', () => {
    const { User, Event, Booking, Hold } = doc.components.schemas;
    expect(Object.keys(Hold.properties)).toEqual(['id', 'eventId', 'userId', 'quantity', 'status', 'expiresAt', 'createdAt', 'extensions', 'bookingId']);
    const holdResult = operation('POST /api/holds').responses['201'].content['application/json'].schema;
    expect(holdResult.properties).toEqual({ hold: { $ref: '#/components/schemas/Hold' }, availableSeats: { type: 'integer' } });
    expect(Object.keys(User.properties)).toEqual(['id', 'email', 'name']);
    expect(Object.keys(Event.properties)).toEqual(['id', 'name', 'description', 'venue', 'startsAt', 'capacity', 'availableSeats', 'heldSeats', 'status', 'organizerId', 'version', 'salesStartAt', 'queueRatePerMinute', 'admissionSeconds']);
    expect(Object.keys(Booking.properties)).toEqual(['id', 'eventId', 'userId', 'quantity', 'status', 'createdAt', 'cancelledAt']);
    const bookResult = operation('POST /api/bookings').responses['201'].content['application/json'].schema;
    expect(bookResult.properties).toEqual({ booking: { $ref: '#/components/schemas/Booking' }, availableSeats: { type: 'integer' } });
    for (const [, target] of documentText.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas[target!]).toBeDefined();
  });

  test('documented statuses are what the server answers', async () => {
    const statusOf = (key: string, code: string) => Number(Object.entries(operation(key).responses).find(([, response]) => documentedCodes(response).includes(code))?.[0]);
    const register = await server.request('POST', '/api/auth/register', { body: { email: `doc-${Date.now()}@example.com`, password: 'password123' } });
    expect(register.status).toBe(201);
    const token = register.body.token;
    const cases: [string, string, () => Promise<{ status: number; body: any }>][] = [
      ['POST /api/bookings', 'validation_error', () => server.request('POST', '/api/bookings', { token, body: { eventId: 1, quantity: 11 } })],
      ['POST /api/bookings', 'unauthorized', () => server.request('POST', '/api/bookings', { body: { eventId: 1 } })],
      ['POST /api/bookings', 'event_not_found', () => server.request('POST', '/api/bookings', { token, body: { eventId: 424242 } })],
      ['POST /api/auth/refresh', 'unauthorized', () => server.request('POST', '/api/auth/refresh', { token: 'not.a.jwt' })],
      ['POST /api/auth/login', 'invalid_credentials', () => server.request('POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: 'nope' } })],
      ['GET /api/bookings/{id}', 'booking_not_found', () => server.request('GET', '/api/bookings/999999', { token })],
      ['GET /api/holds/{id}', 'hold_not_found', () => server.request('GET', '/api/holds/999999', { token })],
      ['POST /api/holds', 'event_not_found', () => server.request('POST', '/api/holds', { token, body: { eventId: 424242 } })],
      ['POST /api/holds/{id}/confirm', 'hold_not_found', () => server.request('POST', '/api/holds/999999/confirm', { token })],
      ['GET /health', 'payload_too_large', () => getWithBody('/health', 64 * 1024 + 1)],
      ['GET /metrics', 'payload_too_large', () => getWithBody('/metrics', 64 * 1024 + 1)],
    ];
    for (const [key, code, call] of cases) {
      const response = await call();
      expect({ key, code: response.body.error?.code, status: response.status }).toEqual({ key, code, status: statusOf(key, code) });
    }
  });
});

describe('GET /openapi', () => {
  test('a self-contained HTML page listing every route, linking the JSON document', async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/openapi`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('text/html');
    const html = await response.text();
    expect(html).toContain('<title>Seatwatch API</title>');
    expect(html).toContain('href="/openapi/json"');
    for (const key of Object.keys(specRoutes)) {
      const [method, path] = key.split(' ') as [string, string];
      expect(html).toContain(`id="${method.toLowerCase()}-${path}"`);
    }
    // Public routes (an empty security list) need no token; signed-in ones say so.
    const accessOf = (id: string) => /<p><span class="access[^"]*">([^<]*)</.exec(html.slice(html.indexOf(`id="${id}"`)))?.[1];
    expect(accessOf('post-/api/auth/login')).toBe('no token needed');
    expect(accessOf('get-/health')).toBe('no token needed');
    expect(accessOf('get-/api/events')).toBe('token optional');
    expect(accessOf('post-/api/bookings')).toBe('Authorization: Bearer &lt;token&gt;');
    // Works offline: nothing loaded from elsewhere.
    expect(html).not.toMatch(/<script[^>]*\ssrc=/);
    expect(html).not.toMatch(/<link[^>]*\shref="https?:/);
  });
});
