import postgres from 'postgres';

/**
 * A fresh database for one scenario run: in-memory PGlite by default, or, when DATABASE_URL
 * points at PostgreSQL, a new database on that server, dropped again afterwards.
 */
export interface BenchDatabase {
  url: string;
  kind: 'pglite' | 'postgres';
  drop(): Promise<void>;
}

export async function createBenchDatabase(label: string, baseUrl = process.env.DATABASE_URL): Promise<BenchDatabase> {
  if (!baseUrl?.startsWith('postgres')) return { url: 'memory://', kind: 'pglite', async drop() {} };
  const name = `seatwatch_bench_${label.replace(/\W/g, '_')}_${process.pid}_${Date.now()}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'postgres',
    async drop() {
      const dropper = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
