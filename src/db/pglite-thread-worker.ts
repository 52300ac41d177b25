/**
 * The thread that runs PGlite (see pglite-thread.ts): opens it, applies the migrations, then
 * answers queries, transactions and LISTEN for the server's thread.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { ErrorFields, FromDatabase, QueryResult, ToDatabase } from './pglite-thread-protocol';

declare const self: Worker;

let client: PGlite | undefined;
/** Open transactions by id: the handle their queries run on, and how to end them. */
const transactions = new Map<number, { tx: Transaction; end(commit: boolean): void; ended: Promise<unknown> }>();
/** Stops per channel. The client sends LISTEN and UNLISTEN one after another, each once per channel. */
const listening = new Map<string, () => Promise<void>>();

const reply = (message: FromDatabase) => self.postMessage(message);

function errorFields(error: unknown): ErrorFields {
  if (!(error instanceof Error)) return { message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value;
  return { message: error.message, fields };
}

/** Passes a value through as PostgreSQL's text. */
const unparsed = (value: string) => value;

/** Drizzle asks for the same few types on every query: each list's parsers are built once. */
const parsersByList = new Map<string, Record<number, typeof unparsed>>();
function passThroughParsers(rawTypes: number[]): Record<number, typeof unparsed> {
  const key = rawTypes.join(',');
  let parsers = parsersByList.get(key);
  if (!parsers) parsersByList.set(key, (parsers = Object.fromEntries(rawTypes.map((oid) => [oid, unparsed]))));
  return parsers;
}

/** Thrown inside a transaction to have PGlite roll it back. */
class RollBack extends Error {}

/** Resolves once BEGIN has run; the transaction stays open until `end` arrives for it. */
function begin(database: PGlite, txId: number): Promise<void> {
  return new Promise((opened, failed) => {
    const ended = database
      .transaction(async (tx) => {
        const commit = await new Promise<boolean>((end) => {
          transactions.set(txId, { tx, end, ended });
          opened();
        });
        if (!commit) throw new RollBack();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error;
      })
      .finally(() => transactions.delete(txId));
    ended.catch(failed);
  });
}

async function handle(message: Exclude<ToDatabase, { type: 'init' }>, database: PGlite): Promise<QueryResult | undefined> {
  switch (message.type) {
    case 'query': {
      const parsers = passThroughParsers(message.rawTypes);
      const on = message.txId === undefined ? database : transactions.get(message.txId)?.tx;
      if (!on) throw new Error(`transaction ${message.txId} is not open`);
      const result = await on.query(message.text, message.params, { rowMode: message.rowMode, parsers });
      return { rows: result.rows, fields: result.fields, affectedRows: result.affectedRows };
    }
    case 'begin':
      await begin(database, message.txId);
      return undefined;
    case 'end': {
      const open = transactions.get(message.txId);
      if (!open) throw new Error(`transaction ${message.txId} is not open`);
      open.end(message.commit);
      await open.ended;
      return undefined;
    }
    case 'listen':
      listening.set(message.channel, await database.listen(message.channel, (payload) => reply({ type: 'notification', channel: message.channel, payload })));
      return undefined;
    case 'unlisten': {
      const stop = listening.get(message.channel);
      listening.delete(message.channel);
      await stop?.();
      return undefined;
    }
    case 'close':
      await database.close();
      return undefined;
  }
}

/**
 * Starting PGlite leaves ~500 MB of garbage in this thread's heap, which the server's own
 * collections never reach: collected, the process runs at ~340 MB instead of ~880. The full
 * collection takes 0.1–0.3 s, so it waits until the thread first sits idle (at most
 * START_COLLECTION_LATEST_MS), rather than hold up the start-up's own queries (seeding) and the
 * listening line. (From a timer: a collection on the deep stack of the start still finds most
 * of it referenced.)
 */
const START_COLLECTION_IDLE_MS = 100;
const START_COLLECTION_LATEST_MS = 2000;
let startCollection: { timer: Timer; latestAt: number } | undefined;

function collectStartGarbageWhenIdle(): void {
  const collect = () => {
    startCollection = undefined;
    Bun.gc(true);
  };
  startCollection = { timer: setTimeout(collect, START_COLLECTION_IDLE_MS), latestAt: Date.now() + START_COLLECTION_LATEST_MS };
}

function postponeStartCollection(): void {
  if (!startCollection) return;
  const { timer, latestAt } = startCollection;
  timer.refresh();
  // A thread never idle still collects once, by then.
  if (Date.now() + START_COLLECTION_IDLE_MS > latestAt) {
    clearTimeout(timer);
    startCollection = undefined;
    setTimeout(() => Bun.gc(true), 0);
  }
}

self.onmessage = async (event: MessageEvent<ToDatabase>) => {
  const message = event.data;
  if (message.type === 'init') {
    try {
      client = new PGlite({ dataDir: message.dataDir, loadDataDir: message.loadDataDir });
      await client.waitReady;
      // A dump that is already migrated makes this a check that finds nothing to do.
      reply({ type: 'migrating' });
      await migrate(drizzle({ client }), { migrationsFolder: message.migrationsFolder });
      collectStartGarbageWhenIdle();
      reply({ type: 'ready' });
    } catch (error) {
      reply({ type: 'init-failed', error: errorFields(error) });
    }
    return;
  }
  postponeStartCollection();
  try {
    if (!client) throw new Error('the database is not open');
    reply({ type: 'done', id: message.id, result: await handle(message, client) });
  } catch (error) {
    reply({ type: 'failed', id: message.id, error: errorFields(error) });
  }
};
