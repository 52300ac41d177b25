import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import postgres from 'postgres';
import { migrationsFolder, type OpenDatabaseOptions } from '../../src/db/client';

const TEST_DATABASE_PREFIX = 'seatwatch_test_';

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let leftoversSwept = false;

/**
 * Databases of earlier test processes that have ended are dropped, once per process: test
 * files cannot reliably drop their own at exit, so the next run tidies up after them.
 */
async function dropLeftoverDatabases(admin: postgres.Sql): Promise<void> {
  if (leftoversSwept) return;
  leftoversSwept = true;
  const rows = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${TEST_DATABASE_PREFIX + '%'}`;
  for (const { datname } of rows) {
    const pid = Number(datname.slice(TEST_DATABASE_PREFIX.length).split('_')[0]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || processIsAlive(pid)) continue;
    await admin.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
  }
}

/**
 * Where a test file's fresh database lives. Without DATABASE_URL: in-memory PGlite. With it
 * (CI's PostgreSQL run): a new database created for this file on that server.
 */
export async function createTestDatabaseUrl(): Promise<string> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl || !baseUrl.startsWith('postgres')) return 'memory://';
  const name = `${TEST_DATABASE_PREFIX}${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await dropLeftoverDatabases(admin);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export const usingPostgres = () => Boolean(process.env.DATABASE_URL?.startsWith('postgres'));

/**
 * What did not run on PGlite, in one plain line of the test output. Not a bun `skip`: the file
 * still tests what PGlite can, and CI runs the whole suite again on PostgreSQL.
 */
export function sayNeedsPostgres(what: string): void {
  console.log(`skipped: ${what} needs DATABASE_URL=postgres://… (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bun test tests/scale-out)`);
}

let migratedDump: Promise<Blob> | undefined;

/**
 * A migrated PGlite data directory, made once per test process (bun test runs every file in
 * one): each in-memory test database starts from its own copy of it, which takes under a second
 * where initdb and the migrations took 3–4 s. The database still runs the migrations on start,
 * and finds nothing left to do.
 */
export function migratedPgliteDump(): Promise<Blob> {
  migratedDump ??= dumpMigratedPglite();
  return migratedDump;
}

/** How openDatabase should open a test database at `url`: in-memory PGlite starts from the migrated dump. */
export async function testDatabaseOptions(url: string): Promise<OpenDatabaseOptions> {
  return url === 'memory://' ? { pgliteStartFrom: await migratedPgliteDump() } : {};
}

async function dumpMigratedPglite(): Promise<Blob> {
  const pglite = new PGlite();
  try {
    await migrate(drizzle({ client: pglite }), { migrationsFolder });
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}
