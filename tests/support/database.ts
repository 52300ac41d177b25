import postgres from 'postgres';

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
