import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi-document';
import { renderOpenApiPage } from './openapi-page';

export const OPENAPI_PAGE_PATH = '/openapi';
export const OPENAPI_JSON_PATH = '/openapi/json';

/**
 * The document with this server in `servers`, as the client reached it (the request's own origin,
 * from its Host header), so tools that import it (Postman, code generators) call this server and
 * not a bare path. Not cached with the document: one server answers under several names.
 */
function servedFrom(document: OpenApiDocument, request: Request): OpenApiDocument {
  const { openapi, info, ...rest } = document;
  return { openapi, info, servers: [{ url: new URL(request.url).origin, description: 'This server' }], ...rest };
}

/**
 * `GET /openapi` (browsable page) and `GET /openapi/json` (the document). Both read the routes of
 * the app this plugin is used in, so it must be `.use`d in createApp; the document is built on
 * first request, when every route is registered (createApp registers them all synchronously).
 */
export function openapiRoutes(_deps: AppDeps) {
  let cached: { document: OpenApiDocument; page: string } | null = null;

  const plugin = new Elysia({ name: 'seatwatch/openapi' });
  const current = () => {
    if (!cached) {
      const document = buildOpenApiDocument(plugin);
      cached = { document, page: renderOpenApiPage(document, OPENAPI_JSON_PATH) };
    }
    return cached;
  };

  return plugin
    .get(OPENAPI_JSON_PATH, ({ request }) => servedFrom(current().document, request), { detail: { hide: true } })
    .get(
      OPENAPI_PAGE_PATH,
      () => new Response(current().page, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      { detail: { hide: true } },
    );
}
