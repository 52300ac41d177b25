import { toOpenAPISchema } from '@elysiajs/openapi';
import { enumToOpenApi, nullToOpenApi } from '@elysiajs/openapi/openapi';
import type { AnyElysia } from 'elysia';
import { z } from 'zod';
import { AppError, errors, type ErrorCode } from '../lib/errors';
import type { PublicBooking } from '../services/booking';
import type { PublicEvent } from '../services/event';
import type { PublicUser } from '../services/auth';

/**
 * The OpenAPI document of the REST API. @elysiajs/openapi reads the live routes and turns the
 * zod schemas they validate with (body, params, query, headers) into JSON Schema; this module
 * adds what the routes do not declare: success bodies, every error each route can answer,
 * and who may call it.
 */

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers?: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

interface OpenApiOperation {
  summary?: string;
  tags?: string[];
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses?: Record<string, unknown>;
  security?: Record<string, string[]>[];
  [extension: string]: unknown;
}

/** Request schemas are described as the client sends them (before transforms and defaults apply). */
const zodInputSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

/**
 * Response schemas without zod's safe-integer bounds (noise to a reader) and without
 * `additionalProperties: false` (responses may gain fields; clients should not break on that).
 */
function readableResponseSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(readableResponseSchema);
  if (typeof value !== 'object' || value === null) return value;
  const cleaned: JsonSchema = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key === '$schema') continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(entry as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'additionalProperties' && entry === false) continue;
    cleaned[key] = readableResponseSchema(entry);
  }
  return cleaned;
}

const outputSchema = (schema: z.ZodType) => readableResponseSchema(z.toJSONSchema(schema, { io: 'output' })) as JsonSchema;

// Response bodies as the services build them; the annotations keep these in step with the types.
const userSchema: z.ZodType<PublicUser> = z.object({ id: z.number().int(), email: z.string(), name: z.string().nullable() });
const eventSchema: z.ZodType<PublicEvent> = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  venue: z.string(),
  startsAt: z.string().meta({ format: 'date-time' }),
  capacity: z.number().int(),
  availableSeats: z.number().int().meta({ description: 'Never below 0, never above capacity' }),
  status: z.enum(['draft', 'published']),
  organizerId: z.number().int(),
  version: z.number().int().meta({ description: 'Bumped by one with every seat change; orders the WebSocket feed' }),
});
const bookingSchema: z.ZodType<PublicBooking> = z.object({
  id: z.number().int(),
  eventId: z.number().int(),
  userId: z.number().int(),
  quantity: z.number().int(),
  status: z.enum(['confirmed', 'cancelled']),
  createdAt: z.string().meta({ format: 'date-time' }),
  cancelledAt: z.string().meta({ format: 'date-time' }).nullable(),
});
const errorBodySchema = z.object({
  error: z.looseObject({
    code: z.string().meta({ description: 'Machine-readable; one of the codes listed on each response' }),
    message: z.string().meta({ description: 'For people; wording may change' }),
    details: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'validation_error only: one entry per field problem' }),
    availableSeats: z.number().int().optional().meta({ description: 'sold_out only: seats left' }),
    bookedSeats: z.number().int().optional().meta({ description: 'capacity_below_booked only: seats already booked' }),
  }),
});

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const objectOf = (properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
});

const authResult = objectOf({ token: { type: 'string', description: 'JWT for `Authorization: Bearer …` and `?token=` on WebSockets' }, user: ref('User') });
const bookingResult = objectOf({ booking: ref('Booking'), availableSeats: { type: 'integer' } });

/** One real example body per code, made by the same factories the services throw. */
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
  payload_too_large: errors.payloadTooLarge(),
  rate_limited: new AppError(429, 'rate_limited', 'Too many requests'),
  internal_error: errors.internal(),
};

type Access = 'public' | 'optional' | 'signed-in';

interface SuccessResponse {
  status: number;
  description: string;
  schema: JsonSchema;
  contentType?: string;
}

interface OperationContract {
  access: Access;
  responses: SuccessResponse[];
  /** Codes this route answers besides internal_error (which every route may) */
  errors: ErrorCode[];
}

/** Codes a JSON body brings with it: bad JSON, failed validation, too large. */
const bodyErrors: ErrorCode[] = ['bad_request', 'validation_error', 'payload_too_large'];

/** Any request whose Content-Length is over the cap is refused before routing, bodiless routes included (createApp). */
const sizeErrors: ErrorCode[] = ['payload_too_large'];

/** Keyed by `METHOD /openapi/path`; SPEC §2 and Operations. */
export const operationContracts: Record<string, OperationContract> = {
  'POST /api/auth/register': {
    access: 'public',
    responses: [{ status: 201, description: 'Account created; signed in', schema: authResult }],
    errors: [...bodyErrors, 'email_taken'],
  },
  'POST /api/auth/login': {
    access: 'public',
    responses: [{ status: 200, description: 'Signed in', schema: authResult }],
    errors: [...bodyErrors, 'invalid_credentials'],
  },
  'GET /api/auth/me': {
    access: 'signed-in',
    responses: [{ status: 200, description: 'The token’s user', schema: objectOf({ user: ref('User') }) }],
    errors: ['unauthorized'],
  },
  'GET /api/events': {
    access: 'optional',
    responses: [
      {
        status: 200,
        description: 'Published events, plus the caller’s own drafts when a token is sent; ordered by id',
        schema: objectOf({ events: { type: 'array', items: ref('Event') } }),
      },
    ],
    errors: ['validation_error', 'unauthorized'],
  },
  'GET /api/events/{id}': {
    access: 'optional',
    responses: [{ status: 200, description: 'The event', schema: objectOf({ event: ref('Event') }) }],
    errors: ['validation_error', 'unauthorized', 'event_not_found'],
  },
  'POST /api/events': {
    access: 'signed-in',
    responses: [{ status: 201, description: 'Created; the caller is its organizer', schema: objectOf({ event: ref('Event') }) }],
    errors: [...bodyErrors, 'unauthorized'],
  },
  'PATCH /api/events/{id}': {
    access: 'signed-in',
    responses: [{ status: 200, description: 'Updated', schema: objectOf({ event: ref('Event') }) }],
    errors: [...bodyErrors, 'unauthorized', 'forbidden', 'event_not_found', 'capacity_below_booked'],
  },
  'POST /api/bookings': {
    access: 'signed-in',
    responses: [
      { status: 201, description: 'Booked', schema: bookingResult },
      { status: 200, description: 'A repeat of an earlier request with the same Idempotency-Key: the original answer; nothing booked', schema: bookingResult },
    ],
    errors: [...bodyErrors, 'unauthorized', 'event_not_found', 'sold_out', 'idempotency_conflict'],
  },
  'GET /api/bookings': {
    access: 'signed-in',
    responses: [{ status: 200, description: 'The caller’s bookings, newest first', schema: objectOf({ bookings: { type: 'array', items: ref('Booking') } }) }],
    errors: ['unauthorized'],
  },
  'GET /api/bookings/{id}': {
    access: 'signed-in',
    responses: [{ status: 200, description: 'The booking', schema: objectOf({ booking: ref('Booking') }) }],
    errors: ['validation_error', 'unauthorized', 'booking_not_found'],
  },
  'DELETE /api/bookings/{id}': {
    access: 'signed-in',
    responses: [{ status: 200, description: 'Cancelled; the seats are free again', schema: bookingResult }],
    errors: ['validation_error', 'unauthorized', 'booking_not_found', 'already_cancelled'],
  },
  'GET /health': {
    access: 'public',
    responses: [
      { status: 200, description: 'The database answers', schema: objectOf({ status: { const: 'ok' } }) },
      { status: 503, description: 'The database does not answer', schema: objectOf({ status: { const: 'unavailable' } }) },
    ],
    errors: sizeErrors,
  },
  'GET /metrics': {
    access: 'public',
    responses: [{ status: 200, description: 'Prometheus text exposition format 0.0.4', schema: { type: 'string' }, contentType: 'text/plain; version=0.0.4' }],
    errors: sizeErrors,
  },
};

const securityFor: Record<Access, Record<string, string[]>[]> = {
  // Said outright, so tools (and linters) do not take a missing list for a forgotten one.
  public: [],
  // An empty requirement means "no token is fine too".
  optional: [{}, { bearerAuth: [] }],
  'signed-in': [{ bearerAuth: [] }],
};

function errorResponses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...new Set<ErrorCode>([...codes, 'internal_error'])]) {
    const status = errorExamples[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: statusCodes.map((code) => `\`${code}\``).join(', '),
      content: {
        'application/json': {
          schema: {
            allOf: [ref('ErrorBody'), { properties: { error: { properties: { code: { enum: statusCodes } } } } }],
          },
          examples: Object.fromEntries(statusCodes.map((code) => [code, { value: errorExamples[code].toBody() }])),
        },
      },
    };
  }
  return responses;
}

function stripDialect(schema: JsonSchema | undefined): JsonSchema | undefined {
  if (!schema) return schema;
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** `idempotency-key` → `Idempotency-Key`, as people write headers. */
const headerName = (name: string) => name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());

/**
 * The zod body schema of every route, by `METHOD /path/{param}`. The generator leaves a body's
 * content empty when the app has its own parse hook (createApp caps body size while parsing),
 * so the JSON body is taken from the route's schema here.
 */
function routeBodySchemas(app: AnyElysia): Map<string, JsonSchema> {
  const schemas = new Map<string, JsonSchema>();
  // The routes of the whole app, as toOpenAPISchema itself reads them (protected in Elysia's types).
  const globalRoutes = (app as unknown as { getGlobalRoutes(): AnyElysia['routes'] }).getGlobalRoutes();
  for (const route of globalRoutes) {
    const body: unknown = route.hooks?.body;
    if (!(body instanceof z.ZodType)) continue;
    // In the generator's own OpenAPI 3.1 spelling, as for every other schema in the document.
    const schema = nullToOpenApi(enumToOpenApi(zodInputSchema(body) as never), '3.1.0') as JsonSchema;
    schemas.set(`${route.method.toUpperCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`, schema);
  }
  return schemas;
}

function enrich(method: string, path: string, operation: OpenApiOperation, bodySchema: JsonSchema | undefined): OpenApiOperation {
  const contract = operationContracts[`${method.toUpperCase()} ${path}`];
  const enriched: OpenApiOperation = { ...operation };
  if (operation.parameters) {
    enriched.parameters = operation.parameters.map((parameter) => ({
      ...parameter,
      name: parameter.in === 'header' ? headerName(parameter.name) : parameter.name,
      schema: stripDialect(parameter.schema),
    }));
  }
  // The API speaks JSON only, whatever else the generator assumes a body could be.
  const jsonBody = bodySchema ?? operation.requestBody?.content['application/json']?.schema;
  if (jsonBody) enriched.requestBody = { required: true, content: { 'application/json': { schema: stripDialect(jsonBody)! } } };
  else delete enriched.requestBody;
  if (!contract) {
    enriched.responses ??= { 200: { description: 'OK' } };
    return enriched;
  }
  enriched.security = securityFor[contract.access];
  const responses: Record<string, unknown> = {};
  for (const success of contract.responses) {
    responses[String(success.status)] = {
      description: success.description,
      content: { [success.contentType ?? 'application/json']: { schema: success.schema } },
    };
  }
  enriched.responses = { ...responses, ...errorResponses(contract.errors) };
  return enriched;
}

const description = `The REST API of Seatwatch, a real-time ticket-booking server.

JSON in and out. Every error has the same body: \`{"error": {"code", "message", …}}\`; an unknown route is \`404 not_found\`.
Sign in with \`POST /api/auth/login\` and send the token as \`Authorization: Bearer <token>\`.

Live seat counts arrive over WebSockets (\`/ws?token=…\`, \`/ws/events/{id}?token=…\`), which OpenAPI cannot describe:
see docs/websockets.md in the repository.`;

/** Builds the document from `app`'s routes as registered now. */
export function buildOpenApiDocument(app: AnyElysia): OpenApiDocument {
  const generated = toOpenAPISchema(app, undefined, undefined, { zod: zodInputSchema }, '3.1.0') as unknown as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const bodySchemas = routeBodySchemas(app);
  const paths: OpenApiDocument['paths'] = {};
  for (const [path, operations] of Object.entries(generated.paths)) {
    paths[path] = {};
    for (const [method, operation] of Object.entries(operations)) {
      paths[path][method] = enrich(method, path, operation, bodySchemas.get(`${method.toUpperCase()} ${path}`));
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Seatwatch API', version: '0.1.0', description },
    tags: [
      { name: 'Auth', description: 'Accounts and tokens' },
      { name: 'Events', description: 'Events and their seats' },
      { name: 'Bookings', description: 'Booking and cancelling seats; never oversells' },
      { name: 'Operations', description: 'Health and metrics' },
    ],
    paths,
    components: {
      schemas: {
        User: outputSchema(userSchema),
        Event: outputSchema(eventSchema),
        Booking: outputSchema(bookingSchema),
        ErrorBody: outputSchema(errorBodySchema),
      },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from /api/auth/login or /api/auth/register' },
      },
    },
  };
}
