import { Elysia } from 'elysia';
import type { AppDeps } from '../app';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi-document';
import { renderOpenApiPage } from './openapi-page';

export const OPENAPI_PAGE_PATH = '/openapi';
export const OPENAPI_JSON_PATH = '/openapi/json';

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
    .get(OPENAPI_JSON_PATH, () => current().document, { detail: { hide: true } })
    .get(
      OPENAPI_PAGE_PATH,
      () => new Response(current().page, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      { detail: { hide: true } },
    );
}
