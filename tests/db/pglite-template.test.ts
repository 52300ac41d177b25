import { afterAll, afterEach, expect, test } from 'bun:test';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrationsFolder } from '../../src/db/client';
import { pgliteTemplatePath, readPgliteTemplate } from '../../src/db/pglite-template';
import { killServerProcesses, startServerProcess } from '../support/server-process';

/** A fresh embedded database starts from the migrated template `bun install` built. */

const workDir = mkdtempSync(join(tmpdir(), 'seatwatch-template-'));
afterEach(killServerProcesses);
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const serverEnv = { SEED_DEMO: 'true', JWT_SECRET: 'a-test-secret-that-is-long-enough-123' };

async function post(port: number, path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

test('bun install built the template for the current migrations', () => {
  expect(existsSync(pgliteTemplatePath(migrationsFolder))).toBe(true);
});

test('a first start on an empty ./data/pglite loads the template, and what it then writes survives a restart', async () => {
  const first = await startServerProcess(serverEnv, { cwd: workDir });
  expect(first.logLines.find((line) => line.msg === 'creating the database')).toMatchObject({ dir: './data/pglite', fromTemplate: true });
  const login = await post(first.port, '/api/auth/login', { email: 'test@example.com', password: 'password' });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const booking = await post(first.port, '/api/bookings', { eventId: 1, quantity: 2 }, token);
  expect(booking.status).toBe(201);
  const { booking: { id } } = (await booking.json()) as { booking: { id: number } };
  first.child.kill('SIGTERM');
  expect(await first.child.exited).toBe(0);

  const second = await startServerProcess(serverEnv, { cwd: workDir });
  expect(second.logLines.find((line) => line.msg === 'opening the database')).toMatchObject({ fromTemplate: false });
  expect(second.logLines.some((line) => line.msg === 'loading demo data')).toBe(false);
  const bookings = await fetch(`http://127.0.0.1:${second.port}/api/bookings`, { headers: { authorization: `Bearer ${token}` } });
  const { bookings: listed } = (await bookings.json()) as { bookings: { id: number; quantity: number; status: string }[] };
  expect(listed.map(({ id, quantity, status }) => ({ id, quantity, status }))).toEqual([{ id, quantity: 2, status: 'confirmed' }]);
}, 120_000);

test('a template is never used for other migrations: the name follows the migration journal', async () => {
  const otherMigrations = join(workDir, 'other-migrations');
  cpSync(migrationsFolder, otherMigrations, { recursive: true });
  const journalPath = join(otherMigrations, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  journal.entries.push({ ...journal.entries.at(-1)!, tag: '9999_not_in_the_template' });
  writeFileSync(journalPath, JSON.stringify(journal));

  expect(pgliteTemplatePath(otherMigrations)).not.toBe(pgliteTemplatePath(migrationsFolder));
  expect(await readPgliteTemplate(otherMigrations)).toBeUndefined();
  expect(await readPgliteTemplate(migrationsFolder)).toBeInstanceOf(Blob);
});
