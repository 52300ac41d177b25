import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { databaseErrorCode, migrationsFolder, openDatabase, type DatabaseHandle } from '../../src/db/client';
import { createTestDatabaseUrl, testDatabaseOptions, usingPostgres } from '../support/database';

/**
 * Migrations on the driver under test: PostgreSQL when DATABASE_URL says so, else the
 * embedded on-disk PGlite (a scratch directory, so the same database can be opened twice).
 */

const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

async function freshDatabaseLocation(): Promise<{ url: string | undefined; pgliteDir?: string }> {
  if (usingPostgres()) return { url: await createTestDatabaseUrl() };
  const pgliteDir = mkdtempSync(join(tmpdir(), 'seatwatch-pglite-'));
  scratchDirs.push(pgliteDir);
  return { url: undefined, pgliteDir };
}

const migrationFiles = readdirSync(migrationsFolder).filter((name) => name.endsWith('.sql'));

async function appliedMigrations(database: DatabaseHandle): Promise<number> {
  const result = await database.db.execute(sql`select count(*)::int as count from drizzle.__drizzle_migrations`);
  return Number(rowsOf<{ count: number }>(result)[0]!.count);
}

/** PGlite answers `{rows}`, postgres.js an array: the one place the tests look at that. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}

async function tableNames(database: DatabaseHandle): Promise<string[]> {
  const result = await database.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
  return rowsOf<{ table_name: string }>(result).map((row) => row.table_name);
}

test('migrations apply cleanly to an empty database and are a no-op the second time', async () => {
  expect(migrationFiles.length).toBeGreaterThan(0);
  const location = await freshDatabaseLocation();

  const first = await openDatabase(location.url, { pgliteDir: location.pgliteDir });
  expect(first.kind).toBe(usingPostgres() ? 'postgres' : 'pglite');
  expect(await tableNames(first)).toEqual(['bookings', 'events', 'held_by_user', 'holds', 'queue_entries', 'users']);
  expect(await appliedMigrations(first)).toBe(migrationFiles.length);
  // Data written after the first start must survive the second one untouched.
  await first.db.execute(sql`insert into users (email, password_hash) values ('kept@example.com', 'x')`);
  await first.close();

  const second = await openDatabase(location.url, { pgliteDir: location.pgliteDir });
  try {
    expect(await appliedMigrations(second)).toBe(migrationFiles.length);
    expect(await tableNames(second)).toEqual(['bookings', 'events', 'held_by_user', 'holds', 'queue_entries', 'users']);
    const users = rowsOf<{ email: string }>(await second.db.execute(sql`select email from users`));
    expect(users.map((row) => row.email)).toEqual(['kept@example.com']);
  } finally {
    await second.close();
  }
}, 60_000);

test('several processes starting together migrate one database once, and its guards hold', async () => {
  // PGlite is one process by design, so the race exists on PostgreSQL only (WORKERS=n).
  const url = usingPostgres() ? await createTestDatabaseUrl() : 'memory://';
  const count = usingPostgres() ? 3 : 1;
  const options = await testDatabaseOptions(url);
  const handles = await Promise.all(Array.from({ length: count }, () => openDatabase(url, options)));
  try {
    for (const handle of handles) expect(await appliedMigrations(handle)).toBe(migrationFiles.length);
    await checkDatabaseGuards(handles[0]!);
  } finally {
    await Promise.all(handles.map((handle) => handle.close()));
  }
  // ping answers while open (above) and throws once closed; close twice is harmless.
  await expect(handles[0]!.ping()).rejects.toThrow();
  await handles[0]!.close();
}, 60_000);

/** The invariants STYLE.md asks the database itself to keep, whatever the code above it does. */
async function checkDatabaseGuards(database: DatabaseHandle): Promise<void> {
  await database.ping();
  const failure = async (statement: ReturnType<typeof sql>) => {
    try {
      await database.db.execute(statement);
    } catch (error) {
      return databaseErrorCode(error);
    }
    return 'succeeded';
  };
  await database.db.execute(sql`insert into users (id, email, password_hash) values (1, 'Guard@Example.com', 'x')`);
  expect(await failure(sql`insert into users (email, password_hash) values ('guard@example.COM', 'x')`)).toBe('23505');
  await database.db.execute(
    sql`insert into events (id, name, starts_at, capacity, available_seats, organizer_id) values (1, 'Guarded', now(), 10, 10, 1)`,
  );
  expect(await failure(sql`update events set available_seats = -1 where id = 1`)).toBe('23514');
  expect(await failure(sql`update events set available_seats = 11 where id = 1`)).toBe('23514');
  expect(await failure(sql`update events set capacity = 5 where id = 1`)).toBe('23514');
  expect(await failure(sql`update events set capacity = 0, available_seats = 0 where id = 1`)).toBe('23514');
  expect(await failure(sql`update events set status = 'cancelled' where id = 1`)).toBe('23514');
  expect(await failure(sql`insert into bookings (event_id, user_id, quantity) values (1, 1, 0)`)).toBe('23514');
  expect(await failure(sql`insert into bookings (event_id, user_id, quantity) values (1, 1, 11)`)).toBe('23514');
  await database.db.execute(sql`insert into bookings (event_id, user_id, quantity, idempotency_key) values (1, 1, 1, 'k')`);
  expect(await failure(sql`insert into bookings (event_id, user_id, quantity, idempotency_key) values (1, 1, 2, 'k')`)).toBe('23505');
  // Bookings without a key are not unique with each other.
  await database.db.execute(sql`insert into bookings (event_id, user_id, quantity) values (1, 1, 1), (1, 1, 1)`);
  const events = rowsOf<{ capacity: number; available_seats: number }>(await database.db.execute(sql`select capacity, available_seats from events`));
  expect(events).toEqual([{ capacity: 10, available_seats: 10 }]);
}
