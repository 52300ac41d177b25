import postgres from 'postgres';

/**
 * Where a test file's fresh database lives. Without DATABASE_URL: in-memory PGlite. With it
 * (CI's PostgreSQL run): a new database created for this file on that server.
 */
export async function createTestDatabaseUrl(): Promise<string> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl || !baseUrl.startsWith('postgres')) return 'memory://';
  const name = `seatwatch_test_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export const usingPostgres = () => Boolean(process.env.DATABASE_URL?.startsWith('postgres'));
