import { openapi } from '@elysiajs/openapi';
import { Elysia } from 'elysia';
import { z } from 'zod';
import type { AppDeps } from '../app-deps';
import { renderOpenApiPage, type PageDocument } from './openapi-page';

export const OPENAPI_PAGE_PATH = '/openapi';
export const OPENAPI_JSON_PATH = '/openapi/json';

type JsonSchema = Record<string, unknown>;

const componentRef = (id: string) => `#/components/schemas/${id}`;

/** zod writes Number.isSafeInteger's bounds on every integer: noise to a reader. */
function withoutSafeIntegerBounds({ jsonSchema }: { jsonSchema: JsonSchema }) {
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}

/**
 * A route's zod schema as OpenAPI 3.1 JSON Schema. Requests are described as the client sends
 * them (before transforms and defaults apply); responses have none of either, so one reading
 * serves both. Schemas with an `id` (schemas.ts) are components, referenced rather than inlined.
 */
export function openApiSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, $defs: _components, ...jsonSchema } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: withoutSafeIntegerBounds,
  });
  return JSON.parse(JSON.stringify(jsonSchema).replaceAll('"#/$defs/', `"${componentRef('')}`)) as JsonSchema;
}

/** Every schema with an `id` (User, Event, Booking, ErrorBody), once. */
function components(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, { io: 'input', override: withoutSafeIntegerBounds, uri: componentRef });
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _dialect, $id: _id, ...schema }]) => [id, schema as JsonSchema]));
}

const description = `The REST API of Seatwatch, a real-time ticket-booking server.

JSON in and out. Every error has the same body: \`{"error": {"code", "message", …}}\`; an unknown route is \`404 not_found\`.
Sign in with \`POST /api/auth/login\` and send the token as \`Authorization: Bearer <token>\`.

Live seat counts arrive over WebSockets (\`/ws?token=…\`, \`/ws/events/{id}?token=…\`), which OpenAPI cannot describe:
see docs/websockets.md in the repository.`;

/**
 * `GET /openapi/json`: @elysiajs/openapi's document, generated from the routes' own schemas
 * (request, response and error answers) and the auth plugin's security. `GET /openapi`: the
 * browsable page (openapi-page.ts). Must be `.use`d in createApp, after the routes it documents.
 */
export function openapiRoutes(_deps: AppDeps) {
  const generator = openapi({
    path: OPENAPI_PAGE_PATH,
    specPath: OPENAPI_JSON_PATH,
    // The plugin's pages load their scripts from a CDN; ours works offline (openapi-page.ts).
    provider: null,
    mapJsonSchema: { zod: openApiSchema },
    documentation: {
      info: { title: 'Seatwatch API', version: '0.1.0', description },
      tags: [
        { name: 'Auth', description: 'Accounts and tokens' },
        { name: 'Events', description: 'Events and their seats' },
        { name: 'Bookings', description: 'Booking and cancelling seats; never oversells' },
        { name: 'Operations', description: 'Health and metrics' },
      ],
      components: {
        schemas: components(),
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from /api/auth/login or /api/auth/register' },
        },
      },
    },
  });
  // The plugin's own handler, which generates (and caches) the document; it takes no context.
  const specRoute = generator.routes.find((route) => route.path === OPENAPI_JSON_PATH);
  if (!specRoute) throw new Error(`@elysiajs/openapi registered no ${OPENAPI_JSON_PATH}`);
  const generated = specRoute.handler as () => PageDocument;
  let page: string | null = null;

  return (
    new Elysia({ name: 'seatwatch/openapi' })
      // This server in `servers`, as the client reached it (the request's own origin, from its Host
      // header), so tools that import the document (Postman, code generators) call this server and
      // not a bare path. Not in the generated document: one server answers under several names.
      .onAfterHandle(({ request, responseValue }) => {
        if (new URL(request.url).pathname !== OPENAPI_JSON_PATH) return;
        const { openapi: version, info, ...rest } = responseValue as PageDocument;
        return { openapi: version, info, servers: [{ url: new URL(request.url).origin, description: 'This server' }], ...rest };
      })
      .use(generator)
      .get(
        OPENAPI_PAGE_PATH,
        () => {
          page ??= renderOpenApiPage(generated(), OPENAPI_JSON_PATH);
          return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
        },
        { detail: { hide: true } },
      )
  );
}
