import { afterAll, afterEach, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { databaseErrorCode, migrationsFolder } from '../../src/db/client';
import { PgliteThread } from '../../src/db/pglite-thread';
import { migratedPgliteDump } from '../support/database';

/**
 * PGlite on its own thread (src/db/pglite-thread.ts), the embedded database under every other
 * test: answers, errors, transactions, LISTEN, persistence and closing, through the real thread.
 */

// Each test opens PGlite (under 1 s from the dump, 3–4 s from scratch, more on a busy machine).
setDefaultTimeout(30_000);

const opened: PgliteThread[] = [];
const scratchDirs: string[] = [];

/** A thread on an empty database (initdb, then the migrations), in memory or in `dataDir`. */
async function openThreadFromScratch(dataDir?: string): Promise<PgliteThread> {
  return ready(new PgliteThread(dataDir, migrationsFolder));
}

/** A thread on a copy of the tests' migrated dump, as every other in-memory test database. */
async function openThread(dump?: Blob): Promise<PgliteThread> {
  return ready(new PgliteThread(undefined, migrationsFolder, { loadDataDir: dump ?? (await migratedPgliteDump()) }));
}

async function ready(database: PgliteThread): Promise<PgliteThread> {
  opened.push(database);
  await database.waitReady;
  return database;
}

// Made once for the whole run, before any test's own clock starts (3–4 s, more on a busy machine).
beforeAll(() => migratedPgliteDump(), 60_000);
afterEach(async () => {
  await Promise.all(opened.splice(0).map((database) => database.close()));
});
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

const TYPE_TIMESTAMPTZ = 1184;
const insertUser = (database: PgliteThread, email: string) =>
  database.query<{ id: number }>(`insert into users (email, name, password_hash) values ($1, 'T', 'x') returning id`, [email]);

test('answers in object and array row modes, with the migrations applied', async () => {
  const database = await openThreadFromScratch();
  const objects = await database.query<{ n: number; s: string }>('select $1::int as n, $2::text as s', [7, 'seven']);
  expect(objects.rows).toEqual([{ n: 7, s: 'seven' }]);
  expect(objects.fields.map((field) => field.name)).toEqual(['n', 's']);
  const arrays = await database.query<unknown[]>('select 1, 2', [], { rowMode: 'array' });
  expect(arrays.rows).toEqual([[1, 2]]);
  const tables = await database.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
  expect(tables.rows.map((row) => row.table_name)).toEqual(['bookings', 'events', 'held_by_user', 'holds', 'queue_entries', 'users']);
});

test('types given pass-through parsers come back as PostgreSQL text; others are parsed', async () => {
  const database = await openThread();
  const text = `select '2026-12-01 10:00:00+00'::timestamptz as at`;
  const raw = await database.query<{ at: unknown }>(text, [], { parsers: { [TYPE_TIMESTAMPTZ]: (value) => value } });
  expect(raw.rows[0]!.at).toBe('2026-12-01 10:00:00+00');
  const parsed = await database.query<{ at: unknown }>(text);
  expect(parsed.rows[0]!.at).toBeInstanceOf(Date);
});

test('a failing statement rejects with its SQLSTATE and message, and the thread keeps answering', async () => {
  const database = await openThread();
  await insertUser(database, 'one@example.com');
  const duplicate = await insertUser(database, 'one@example.com').catch((error: unknown) => error);
  expect(duplicate).toBeInstanceOf(Error);
  expect(databaseErrorCode(duplicate)).toBe('23505');
  const syntax = await database.query('selec 1').catch((error: unknown) => error);
  expect(databaseErrorCode(syntax)).toBe('42601');
  expect((syntax as Error).message).toContain('syntax error');
  expect((await database.query<{ ok: number }>('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
});

test('hundreds of queries in flight at once each get their own answer', async () => {
  const database = await openThread();
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => database.query<{ n: number }>('select $1::int * 2 as n', [i])));
  expect(answers.map((answer) => answer.rows[0]!.n)).toEqual(Array.from({ length: 300 }, (_, i) => i * 2));
});

test('a transaction commits when its function resolves and rolls back when it throws', async () => {
  const database = await openThread();
  const id = await database.transaction(async (tx) => (await tx.query<{ id: number }>(`insert into users (email, name, password_hash) values ('kept@example.com', 'K', 'x') returning id`)).rows[0]!.id);
  const failure = await database
    .transaction(async (tx) => {
      await tx.query(`insert into users (email, name, password_hash) values ('dropped@example.com', 'D', 'x')`);
      throw new Error('changed my mind');
    })
    .catch((error: unknown) => error);
  expect((failure as Error).message).toBe('changed my mind');
  const users = await database.query<{ id: number; email: string }>('select id, email from users order by id');
  expect(users.rows).toEqual([{ id, email: 'kept@example.com' }]);
});

test('a query from outside waits for an open transaction and then sees its commit', async () => {
  const database = await openThread();
  let outsideAnswered = false;
  let outside: Promise<number> | undefined;
  await database.transaction(async (tx) => {
    await tx.query(`insert into users (email, name, password_hash) values ('inside@example.com', 'I', 'x')`);
    outside = database.query<{ count: number }>('select count(*)::int as count from users').then((result) => {
      outsideAnswered = true;
      return result.rows[0]!.count;
    });
    await Bun.sleep(50);
    expect(outsideAnswered).toBe(false);
  });
  expect(await outside!).toBe(1);
});

test('LISTEN delivers notifications until the listener stops', async () => {
  const database = await openThread();
  const received: string[] = [];
  const stop = await database.listen('seat_test', (payload) => received.push(payload));
  await database.query(`select pg_notify('seat_test', 'first')`);
  await database.query(`select pg_notify('seat_test', 'second')`);
  for (let i = 0; i < 50 && received.length < 2; i++) await Bun.sleep(10);
  expect(received).toEqual(['first', 'second']);
  await stop();
  await database.query(`select pg_notify('seat_test', 'after')`);
  await Bun.sleep(50);
  expect(received).toEqual(['first', 'second']);
});

test('a listener stopped and started again at once, and two started side by side, all hear what follows', async () => {
  const database = await openThread();
  const first: string[] = [];
  const stop = await database.listen('seat_again', (payload) => first.push(`old ${payload}`));
  const [, again] = await Promise.all([stop(), database.listen('seat_again', (payload) => first.push(payload))]);
  const second: string[] = [];
  const [stopA, stopB] = await Promise.all([database.listen('seat_pair', (payload) => second.push(`a ${payload}`)), database.listen('seat_pair', (payload) => second.push(`b ${payload}`))]);
  await database.query(`select pg_notify('seat_again', 'hello'), pg_notify('seat_pair', 'hi')`);
  for (let i = 0; i < 50 && (first.length < 1 || second.length < 2); i++) await Bun.sleep(10);
  expect(first).toEqual(['hello']);
  expect(second.sort()).toEqual(['a hi', 'b hi']);
  await Promise.all([again(), stopA(), stopB()]);
});

test('a parameter that cannot cross the thread rejects that query only', async () => {
  const database = await openThread();
  await expect(database.query('select $1::text', [() => 'not data'])).rejects.toThrow();
  expect((await database.query<{ ok: number }>('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
});

test('a program that never closes the database, or fails to open it, still ends by itself', async () => {
  const script = (migrations: string) => `
    import { PgliteThread } from ${JSON.stringify(new URL('../../src/db/pglite-thread.ts', import.meta.url).pathname)};
    const database = new PgliteThread(undefined, ${JSON.stringify(migrations)});
    try {
      await database.waitReady;
      console.log((await database.query('select 1 as ok')).rows[0].ok);
    } catch (error) {
      console.log('failed to open');
    }`;
  // Both programs at once; each gets 45 s to end (a start of PGlite takes 11 s on a machine at load 7;
  // a program kept alive by the thread never ends at all), so the test's own limit is above that.
  const cases = [[migrationsFolder, '1'], ['/nonexistent/migrations', 'failed to open']] as const;
  const outcomes = await Promise.all(
    cases.map(async ([migrations]) => {
      const child = Bun.spawn(['bun', '-e', script(migrations)], { stdout: 'pipe', stderr: 'ignore' });
      const ended = await Promise.race([child.exited.then(() => true), Bun.sleep(45_000).then(() => false)]);
      if (!ended) child.kill();
      return { migrations, ended, printed: (await new Response(child.stdout).text()).trim() };
    }),
  );
  expect(outcomes).toEqual(cases.map(([migrations, printed]) => ({ migrations, ended: true, printed })));
}, 90_000);

test('on disk, what was written is there when the directory is opened again', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'seatwatch-pglite-thread-'));
  scratchDirs.push(dataDir);
  const first = await openThreadFromScratch(dataDir);
  await insertUser(first, 'durable@example.com');
  await first.close();
  const second = await openThreadFromScratch(dataDir);
  expect((await second.query<{ email: string }>('select email from users')).rows).toEqual([{ email: 'durable@example.com' }]);
});

test('closed before it is ready, it ends the thread, and its opener hears why', async () => {
  const database = new PgliteThread(undefined, migrationsFolder);
  await database.close();
  await expect(database.waitReady).rejects.toThrow('the database is closed');
  await expect(database.query('select 1')).rejects.toThrow('the database is closed');
});

test('after close, queries reject instead of hanging', async () => {
  const database = await openThread();
  await database.close();
  await expect(database.query('select 1')).rejects.toThrow('the database is closed');
  await database.close();
});

test('threads started from one dump each write to their own copy of it', async () => {
  const [first, second] = await Promise.all([openThread(), openThread()]);
  await insertUser(first, 'first@example.com');
  await insertUser(second, 'second@example.com');
  const emails = async (database: PgliteThread) => (await database.query<{ email: string }>('select email from users order by id')).rows.map((row) => row.email);
  expect(await emails(first)).toEqual(['first@example.com']);
  expect(await emails(second)).toEqual(['second@example.com']);
  expect(await emails(await openThread())).toEqual([]);
});

test('a thread started from a dump holds what the dump held, and gets the migrations it lacked', async () => {
  // The tests' dump without the migrations and with a table of its own: an older dump, say.
  const pglite = await PGlite.create({ loadDataDir: await migratedPgliteDump() });
  await pglite.exec(`drop schema drizzle cascade; drop schema public cascade; create schema public;
    create table from_dump (note text); insert into from_dump values ('kept');`);
  const unmigrated = await pglite.dumpDataDir('none');
  await pglite.close();
  const database = await openThread(unmigrated);
  expect((await database.query<{ note: string }>('select note from from_dump')).rows).toEqual([{ note: 'kept' }]);
  const tables = await database.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
  expect(tables.rows.map((row) => row.table_name)).toEqual(['bookings', 'events', 'from_dump', 'held_by_user', 'holds', 'queue_entries', 'users']);
  expect((await insertUser(database, 'migrated@example.com')).rows).toEqual([{ id: 1 }]);
});
