import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { DEMO_PASSWORD } from '../db/seed';

/**
 * `GET /`: the dashboard (SPEC §6), with its script bundled from src/web/dashboard.ts by Bun in
 * memory on first need, so nothing has to be built by hand and nothing is written to disk.
 */

const webDirectory = fileURLToPath(new URL('../web/', import.meta.url));
const DEMO_EMAIL = 'test@example.com';

const noCache = { 'cache-control': 'no-cache' };

/** One bundle per process, shared by every server it runs (tests start several). */
let scriptBundle: Promise<string> | null = null;

export function dashboardScript(): Promise<string> {
  scriptBundle ??= Bun.build({ entrypoints: [`${webDirectory}dashboard.ts`], target: 'browser', format: 'esm', minify: true })
    .then(async (result) => {
      const [output] = result.outputs;
      if (!result.success || !output) throw new AggregateError(result.logs, 'dashboard script failed to build');
      return output.text();
    })
    .catch((error: unknown) => {
      // Not cached: a fixed file builds on the next request instead of failing until restart.
      scriptBundle = null;
      throw error;
    });
  return scriptBundle;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The page, with the demo account filled in when the server has loaded the demo data. */
export function renderDashboardPage(template: string, withDemoCredentials: boolean): string {
  const values: Record<string, string> = withDemoCredentials
    ? {
        demoEmail: escapeHtml(DEMO_EMAIL),
        demoPassword: escapeHtml(DEMO_PASSWORD),
        demoHint: `<p class="demo-hint">Demo data is loaded: the form is filled in with <strong>${escapeHtml(DEMO_EMAIL)}</strong> / <strong>${escapeHtml(DEMO_PASSWORD)}</strong>. Open a second window as <strong>alice@example.com</strong> (same password) to watch one user's bookings move the other's counts.</p>`,
      }
    : { demoEmail: '', demoPassword: '', demoHint: '' };
  return template.replace(/\{\{(\w+)\}\}/g, (_placeholder, name: string) => values[name] ?? '');
}

export function dashboardRoutes({ config }: AppDeps) {
  const page = renderDashboardPage(readFileSync(`${webDirectory}index.html`, 'utf8'), config.seedDemo);
  const stylesheet = readFileSync(`${webDirectory}dashboard.css`, 'utf8');
  // Start bundling now so the first visitor does not wait; a failure shows on that request.
  dashboardScript().catch(() => {});

  return new Elysia({ tags: ['Dashboard'] })
    .get('/', () => new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8', ...noCache } }), { detail: { hide: true } })
    .get(
      '/assets/dashboard.js',
      async () => new Response(await dashboardScript(), { headers: { 'content-type': 'text/javascript; charset=utf-8', ...noCache } }),
      { detail: { hide: true } },
    )
    .get('/assets/dashboard.css', () => new Response(stylesheet, { headers: { 'content-type': 'text/css; charset=utf-8', ...noCache } }), {
      detail: { hide: true },
    });
}
