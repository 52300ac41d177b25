import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from '../support/server';

/** The dashboard as the server serves it; the page itself is tested in Chromium in tests/web/. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(() => server.stop());

test('GET / serves the page with the demo account filled in, and a script with no server code', async () => {
  const page = await server.request('GET', '/');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toContain('text/html');
  expect(page.body).toContain('name="email" type="email" autocomplete="username" required value="test@example.com"');
  expect(page.body).toContain('value="password"');
  expect(page.body).not.toContain('{{');

  const script = await fetch(`${server.url}/assets/dashboard.js`);
  expect(script.status).toBe(200);
  expect(script.headers.get('content-type')).toContain('javascript');
  const code = await script.text();
  expect(code).toContain('subscribe_event');
  // Types only from the protocol and services: no zod, no drizzle in the browser.
  expect(code).not.toContain('ZodError');
  expect(code).not.toContain('drizzle');

  const css = await fetch(`${server.url}/assets/dashboard.css`);
  expect(css.status).toBe(200);
  expect(css.headers.get('content-type')).toContain('text/css');
});
