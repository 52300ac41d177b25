import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asc, sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { bookings, events, users } from '../../src/db/schema';
import { DEMO_PASSWORD, DEMO_PASSWORD_HASH, seedDemoData } from '../../src/db/seed';
import { createTestDatabaseUrl, usingPostgres } from '../support/database';
import { openTestDatabase } from '../support/server';

/** SPEC §1 demo data: idempotent, only into an empty database. */

let database: DatabaseHandle;
beforeAll(async () => {
  database = await openTestDatabase();
}, 60_000);
afterAll(() => database.close());

test('loads the SPEC demo data into an empty database, once', async () => {
  // Two start-ups at once (WORKERS=n) must not both load it.
  const loaded = await Promise.all([seedDemoData(database.db), seedDemoData(database.db)]);
  expect(loaded.sort()).toEqual([false, true]);

  const people = await database.db.select().from(users).orderBy(asc(users.id));
  expect(people.map(({ id, email, name }) => ({ id, email, name }))).toEqual([
    { id: 1, email: 'test@example.com', name: 'Test User' },
    { id: 2, email: 'alice@example.com', name: 'Alice' },
  ]);
  expect(DEMO_PASSWORD).toBe('password');
  expect(await Bun.password.verify(DEMO_PASSWORD, DEMO_PASSWORD_HASH, 'argon2id')).toBe(true);
  for (const person of people) {
    expect(person.passwordHash).toStartWith('$argon2id$');
    expect(await Bun.password.verify('password', person.passwordHash)).toBe(true);
  }

  const all = await database.db.select().from(events).orderBy(asc(events.id));
  expect(all[0]).toMatchObject({ id: 1, name: 'Demo Concert', capacity: 50, availableSeats: 50, status: 'published', version: 1 });
  expect(all.filter((event) => event.status === 'published').length).toBeGreaterThanOrEqual(3);
  const drafts = all.filter((event) => event.status === 'draft');
  expect(drafts).toHaveLength(1);
  expect(drafts[0]!.organizerId).toBe(1);
  for (const event of all) expect(event.availableSeats).toBe(event.capacity);
  expect(await database.db.select().from(bookings)).toEqual([]);

  // Again: a no-op.
  const counts = async () => (await database.db.execute(sql`select (select count(*) from users)::int + (select count(*) from events)::int as total`));
  const before = await counts();
  expect(await seedDemoData(database.db)).toBe(false);
  expect(await counts()).toEqual(before);
}, 60_000);

test('`bun run db:migrate` then `bun run db:seed` twice: loads once, then leaves the data alone', async () => {
  // Unset DATABASE_URL means the embedded PGlite under ./data/pglite, so run in a scratch directory.
  const cwd = mkdtempSync(join(tmpdir(), 'seatwatch-seed-'));
  const databaseUrl = usingPostgres() ? await createTestDatabaseUrl() : undefined;
  const run = async (script: string) => {
    const child = Bun.spawn([process.execPath, fileURLToPath(new URL(`../../src/db/${script}`, import.meta.url))], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: 60_000,
    });
    const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { exitCode, stdout: stdout.trim(), stderr };
  };
  try {
    expect(await run('migrate-cli.ts')).toEqual({ exitCode: 0, stdout: `Migrations applied (${usingPostgres() ? 'postgres' : 'pglite'}).`, stderr: '' });
    const first = await run('seed-cli.ts');
    expect(first).toMatchObject({ exitCode: 0, stderr: '' });
    expect(first.stdout).toStartWith('Demo data loaded');
    const second = await run('seed-cli.ts');
    expect(second).toMatchObject({ exitCode: 0, stderr: '' });
    expect(second.stdout).toStartWith('Database not empty');
    if (!usingPostgres()) expect(existsSync(join(cwd, 'data', 'pglite'))).toBe(true);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}, 120_000);
