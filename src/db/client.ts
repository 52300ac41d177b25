import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { PgliteThread } from './pglite-thread';
import { createNotificationListener, type ListenOptions, type NotificationHandler } from './listener';
import * as schema from './schema';

/** One Drizzle type for both drivers, so services never know which one they run on. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseKind = 'pglite' | 'postgres';

export type { ListenOptions, NotificationHandler } from './listener';

export interface DatabaseHandle {
  db: Database;
  kind: DatabaseKind;
  /** Subscribe to NOTIFY on a channel; resolves once listening; the result stops it. */
  listen(channel: string, handler: NotificationHandler, options?: ListenOptions): Promise<() => Promise<void>>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /** A full garbage collection wherever the database keeps a heap of its own (PGlite's thread), for memory readings. */
  collectGarbage(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_PGLITE_DIR = './data/pglite';

/** Resolved from this module, not the working directory, so any cwd works. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface OpenDatabaseOptions {
  /** Connections in the postgres.js pool (ignored for PGlite). */
  maxConnections?: number;
  /** Where the embedded PGlite keeps its files when DATABASE_URL is unset (default ./data/pglite). */
  pgliteDir?: string;
  /**
   * A dump of a PGlite data directory (PGlite's dumpDataDir) that a new PGlite database starts
   * from instead of an empty one; migrations still apply on top. The tests start each in-memory
   * database from one migrated dump, which is 3–4 s quicker than initdb and migrating each time.
   */
  pgliteStartFrom?: Blob;
}

export async function openDatabase(databaseUrl: string | undefined, options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (databaseUrl?.startsWith('postgres')) return openPostgres(databaseUrl, options);
  return openPglite(databaseUrl === 'memory://' ? undefined : (options.pgliteDir ?? DEFAULT_PGLITE_DIR), options.pgliteStartFrom);
}

/** PGlite runs on a thread of its own (pglite-thread.ts), which also applies the migrations. */
async function openPglite(dataDir: string | undefined, startFrom: Blob | undefined): Promise<DatabaseHandle> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = new PgliteThread(dataDir, migrationsFolder, startFrom);
  await client.waitReady;
  // Drizzle's PGlite session calls only query() and transaction(), which PgliteThread offers.
  const db = drizzlePglite({ client: client as unknown as PGlite, schema });
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    async listen(channel, handler, options) {
      const stop = await client.listen(channel, handler);
      options?.onListen?.();
      return stop;
    },
    async ping() {
      await client.query('select 1');
    },
    collectGarbage: () => client.collectGarbage(),
    close: () => client.close(),
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const client = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice: () => {},
    // Sessions never wait forever on a lock held by a crashed request.
    connection: { application_name: 'seatwatch', lock_timeout: 10_000, statement_timeout: 30_000 },
  });
  await migrateExclusively(url);
  const db = drizzlePostgres({ client, schema });
  // Its own application_name, so operators (and tests) can tell it apart in pg_stat_activity.
  const listener = createNotificationListener(url, 'seatwatch-listener');
  let closed = false;
  return {
    db: db as unknown as Database,
    kind: 'postgres',
    listen: listener.listen,
    async ping() {
      await db.execute(sql`select 1`);
    },
    async collectGarbage() {},
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([listener.close(), client.end({ timeout: 5 })]);
    },
  };
}

/**
 * Several processes may start at once on one database (WORKERS=n, tests): a session advisory
 * lock on a one-connection client makes them apply migrations one at a time.
 */
async function migrateExclusively(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(827341)`;
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder });
    await client`select pg_advisory_unlock(827341)`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** The SQLSTATE of a driver error, looking through Drizzle's wrapper. */
export function databaseErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (typeof current === 'object' && current !== null && 'code' in current && typeof current.code === 'string') {
      return current.code;
    }
    current = typeof current === 'object' && current !== null && 'cause' in current ? current.cause : undefined;
  }
  return undefined;
}
