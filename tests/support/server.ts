import { expect, setDefaultTimeout } from 'bun:test';
import { loadConfig, type Config } from '../../src/config';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import type { Logger } from '../../src/lib/logger';
import { startServer, type RunningServer } from '../../src/server';
import { createTestDatabaseUrl, testDatabaseOptions } from './database';

// Starting a server (PGlite boot, migrations, argon2 seeding) takes seconds on a busy 2-core
// machine: every file that uses these helpers gets room for that in its hooks and tests.
setDefaultTimeout(30_000);

export interface TestServer extends RunningServer {
  wsUrl: string;
  /** fetch against this server with JSON in and out */
  request(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers; text: string }>;
}

/**
 * A fresh database for a test file: in-memory PGlite, or a new PostgreSQL database when
 * DATABASE_URL is set (as in CI's second run).
 */
export async function openTestDatabase(): Promise<DatabaseHandle> {
  const url = await createTestDatabaseUrl();
  return openDatabase(url, await testDatabaseOptions(url));
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), host: '127.0.0.1', port: 0, logLevel: 'silent', fanoutCoalesceMs: 0, ...overrides };
}

export async function startTestServer(
  options: {
    database?: DatabaseHandle;
    config?: Partial<Config>;
    seed?: boolean;
    /** capture log lines, e.g. createLogger('info', write) */
    logger?: Logger;
    websocketIdleTimeoutSeconds?: number;
  } = {},
): Promise<TestServer> {
  const database = options.database ?? (await openTestDatabase());
  const config = testConfig({ seedDemo: options.seed ?? true, ...options.config });
  const server = await startServer(config, { database, logger: options.logger, websocketIdleTimeoutSeconds: options.websocketIdleTimeoutSeconds });
  const ownsDatabase = !options.database;
  return {
    ...server,
    wsUrl: `ws://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop();
      if (ownsDatabase) await database.close();
    },
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (requestOptions.token) headers.authorization = `Bearer ${requestOptions.token}`;
      let body: string | undefined;
      if (requestOptions.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof requestOptions.body === 'string' ? requestOptions.body : JSON.stringify(requestOptions.body);
      }
      const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: response.status, body: parsed, headers: response.headers, text };
    },
  };
}

export async function login(server: TestServer, email = 'test@example.com', password = 'password'): Promise<string> {
  const response = await server.request('POST', '/api/auth/login', { body: { email, password } });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.token;
}

/** An API error answer: this status, a JSON body, this `error.code`. */
export function expectError(response: { status: number; body: any; headers: Headers }, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/json');
  expect(response.body.error.code).toBe(code);
}

let userCounter = 0;
export async function registerUser(server: TestServer, name = 'user'): Promise<{ token: string; userId: number; email: string }> {
  const email = `${name}-${process.pid}-${++userCounter}-${Date.now()}@example.com`;
  const response = await server.request('POST', '/api/auth/register', { body: { email, password: 'password123', name } });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { token: response.body.token, userId: response.body.user.id, email };
}
