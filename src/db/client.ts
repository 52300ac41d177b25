import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { redactPassword, type Logger } from '../lib/logger';
import { PgliteThread } from './pglite-thread';
import { createAvailabilityGate, type AvailabilityGate } from './availability';
import { createNotificationListener, type ListenOptions, type NotificationHandler } from './listener';
import { createPinger } from './ping';
import { lockDataDir } from './pglite-lock';
import { readPgliteTemplate } from './pglite-template';
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
  /** Hears each start-up step (opening, migrating), and when PostgreSQL becomes unreachable and when it is back. */
  logger?: Logger;
  /**
   * A dump of a PGlite data directory (PGlite's dumpDataDir) that a new PGlite database starts
   * from instead of an empty one; migrations still apply on top. Default for a new database: the
   * template `bun install` built (pglite-template.ts), when there is one.
   */
  pgliteStartFrom?: Blob;
}

export async function openDatabase(databaseUrl: string | undefined, options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (databaseUrl?.startsWith('postgres')) return openPostgres(databaseUrl, options);
  return openPglite(databaseUrl === 'memory://' ? undefined : (options.pgliteDir ?? DEFAULT_PGLITE_DIR), options.logger, options.pgliteStartFrom);
}

/** PGlite runs on a thread of its own (pglite-thread.ts), which also applies the migrations. */
async function openPglite(dataDir: string | undefined, logger: Logger | undefined, startFrom: Blob | undefined): Promise<DatabaseHandle> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const releaseLock = dataDir ? lockDataDir(dataDir) : () => {};
  const creating = !dataDir || !existsSync(join(dataDir, 'PG_VERSION'));
  const loadDataDir = startFrom ?? (creating ? await readPgliteTemplate(migrationsFolder) : undefined);
  logger?.info(creating ? 'creating the database' : 'opening the database', { database: 'pglite', dir: dataDir ?? 'memory://', fromTemplate: loadDataDir !== undefined });
  const client = new PgliteThread(dataDir, migrationsFolder, { onMigrating: () => logger?.info('applying migrations'), loadDataDir });
  await client.waitReady.catch((error: unknown) => {
    releaseLock();
    throw error;
  });
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
    close: () => client.close().finally(releaseLock),
  };
}

/**
 * How the PostgreSQL connection copes with an outage (docs/configuration.md, "When PostgreSQL
 * goes away"): a new connection gets 2 s to be ready (postgres.js waits 30 s); a failed one is
 * retried within 250 ms, not after postgres.js's backoff of up to 20 s; a ping gets 700 ms, so
 * /health answers within 1 s. Statements keep their 30 s: a query slow under load is no outage.
 */
const CONNECT_TIMEOUT_SECONDS = 2;
const PING_TIMEOUT_MS = 700;
const PROBE_INTERVAL_MS = 250;
const reconnectDelaySeconds = (failures: number) => (0.5 + Math.random() / 2) * Math.min(0.02 * 2 ** failures, 0.25);

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const openPool = () =>
    postgres(url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connect_timeout: CONNECT_TIMEOUT_SECONDS,
      backoff: reconnectDelaySeconds,
      // Any connection closing may be the database going away: the gate finds out.
      onclose: () => gate.suspect(),
      // Sessions never wait forever on a lock held by a crashed request. Times come back in UTC
      // whatever the server's default zone: Date cannot parse the seconds-precise offsets that
      // zones' local mean time gives to older times (Amsterdam before 1937: +00:19:32).
      connection: { application_name: 'seatwatch', lock_timeout: 10_000, statement_timeout: 30_000, TimeZone: 'UTC' },
    });
  const pinger = createPinger(url, { applicationName: 'seatwatch-ping', connectTimeoutSeconds: PING_TIMEOUT_MS / 1000 });
  const gate = createAvailabilityGate({
    probe: () => pinger.ping(PING_TIMEOUT_MS),
    retryMs: PROBE_INTERVAL_MS,
    logger: options.logger,
    // Queries queued in the pool and statements on connections that will never answer fail now
    // (503) rather than one connection attempt after another; the next query gets a fresh pool.
    onUnreachable: () => pool.replace(),
  });
  const pool = createReplaceablePool(openPool, gate);
  options.logger?.info('connecting to the database', { database: 'postgres', url: redactPassword(url) });
  await migrateExclusively(url, options.logger);
  const db = drizzlePostgres({ client: pool.client, schema });
  // Its own application_name, so operators (and tests) can tell it apart in pg_stat_activity.
  const listener = createNotificationListener(url, 'seatwatch-listener');
  let closed = false;
  return {
    db: db as unknown as Database,
    kind: 'postgres',
    listen: listener.listen,
    async ping() {
      if (closed) throw new Error('the database is closed');
      gate.check();
      try {
        await pinger.ping(PING_TIMEOUT_MS);
      } catch (error) {
        gate.suspect();
        throw error;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      gate.close();
      await Promise.all([listener.close(), pool.close(), pinger.close()]);
    },
  };
}

/**
 * The query pool behind one stable client, so Drizzle keeps its client while an outage swaps the
 * pool behind it. Every query asks the gate first. Only what Drizzle calls is passed on.
 */
function createReplaceablePool(open: () => postgres.Sql, gate: AvailabilityGate) {
  const first = open();
  let current = first;
  let closed = false;
  const client = {
    // Drizzle sets its date parsers here once; replacements copy them.
    options: first.options,
    unsafe: ((...args: Parameters<postgres.Sql['unsafe']>) => {
      if (closed) throw new Error('the database is closed');
      gate.check();
      return current.unsafe(...args);
    }) as postgres.Sql['unsafe'],
    begin: ((...args: Parameters<postgres.Sql['begin']>) => {
      if (closed) throw new Error('the database is closed');
      gate.check();
      return (current.begin as (...beginArgs: unknown[]) => ReturnType<postgres.Sql['begin']>)(...args);
    }) as postgres.Sql['begin'],
  } as unknown as postgres.Sql;

  return {
    client,
    replace(): void {
      if (closed) return;
      const old = current;
      current = open();
      Object.assign(current.options.parsers, first.options.parsers);
      Object.assign(current.options.serializers, first.options.serializers);
      // timeout 0: queued queries and open statements fail now, with CONNECTION_DESTROYED.
      void old.end({ timeout: 0 }).catch(() => {});
    },
    async close(): Promise<void> {
      closed = true;
      await current.end({ timeout: 5 });
    },
  };
}

/**
 * Several processes may start at once on one database (WORKERS=n, tests): a session advisory
 * lock on a one-connection client makes them apply migrations one at a time.
 */
async function migrateExclusively(url: string, logger: Logger | undefined): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(827341)`;
    logger?.info('applying migrations');
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
