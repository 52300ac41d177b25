/**
 * PGlite on a thread of its own. In the server's thread its statements, and the copying of the
 * wire protocol in and out of WebAssembly, took ~0.6 ms per booking away from the event loop
 * that writes to the sockets; here they run beside it, on the other core, as PostgreSQL's do.
 * The client offers what Drizzle's PGlite session calls (query, transaction) and LISTEN.
 * Parameters cross the thread by structured clone: primitives, Dates, BigInts, byte arrays and
 * plain objects arrive as they were (what Drizzle passes); class instances arrive as plain objects.
 */
import type { ErrorFields, FromDatabase, QueryResult, ToDatabase } from './pglite-thread-protocol';

export interface QueryOptions {
  rowMode?: 'array' | 'object';
  /**
   * Only pass-through parsers exist across the thread (Drizzle's, for dates and times): the
   * types listed come back as PostgreSQL's text, whatever the functions do.
   */
  parsers?: Record<number, (value: string) => string>;
}

export interface Queryable {
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
}

/** A request without its id (the client numbers them); distributes over the union. */
type Request = ToDatabase extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

/** The global Worker is Bun's, with ref/unref, which the DOM lib's type of it lacks. */
type ThreadWorker = Worker & Pick<Bun.Worker, 'ref' | 'unref'>;

/** The type OIDs of a parsers object; Drizzle passes the same object on every query of a statement. */
const rawTypesOf = new WeakMap<object, number[]>();
function rawTypes(parsers: QueryOptions['parsers']): number[] {
  if (!parsers) return [];
  let types = rawTypesOf.get(parsers);
  if (!types) rawTypesOf.set(parsers, (types = Object.keys(parsers).map(Number)));
  return types;
}

function databaseError({ message, fields }: ErrorFields): Error {
  return Object.assign(new Error(message), fields);
}

export class PgliteThread implements Queryable {
  readonly waitReady: Promise<void>;
  private readonly worker = new Worker(new URL('./pglite-thread-worker.ts', import.meta.url).href) as ThreadWorker;
  private readonly pending = new Map<number, { resolve(result: QueryResult | undefined): void; reject(error: Error): void }>();
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();
  /** LISTEN and UNLISTEN one after another, so a channel's state here is the thread's. */
  private listenQueue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private nextTxId = 1;
  private ready = false;
  private closed = false;
  private stopped: Error | undefined;
  private failStart: (error: Error) => void = () => {};

  /**
   * `onMigrating`: called once PGlite is open, as the migrations start (start-up's log follows the steps).
   * `loadDataDir`: a dump of a data directory (PGlite's dumpDataDir) to start from instead of an empty one.
   */
  constructor(dataDir: string | undefined, migrationsFolder: string, options: { onMigrating?: () => void; loadDataDir?: Blob } = {}) {
    this.waitReady = new Promise((ready, failed) => {
      this.failStart = failed;
      this.worker.onmessage = (event: MessageEvent<FromDatabase>) => {
        const message = event.data;
        if (message.type === 'migrating') options.onMigrating?.();
        else if (message.type === 'ready') {
          this.ready = true;
          this.holdProcessOpen();
          ready();
        } else if (message.type === 'init-failed') {
          this.fail(databaseError(message.error));
          this.worker.terminate();
        } else this.receive(message);
      };
    });
    // A thread that dies takes its answers with it: every waiting query fails instead of hanging.
    this.worker.onerror = (event) => this.fail(new Error(`the database thread failed: ${event.message}`));
    this.worker.addEventListener('close', () => this.fail(new Error('the database thread has stopped')));
    // Whoever opens the database awaits this; closed before it was ready, nobody may be left to.
    this.waitReady.catch(() => {});
    this.worker.postMessage({ type: 'init', dataDir, migrationsFolder, loadDataDir: options.loadDataDir } satisfies ToDatabase);
  }

  query<T>(text: string, params: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<T>> {
    return this.queryIn<T>(undefined, text, params, options);
  }

  /** Runs `run` in one transaction: committed when it resolves, rolled back when it throws. */
  async transaction<T>(run: (tx: Queryable) => Promise<T>): Promise<T> {
    const txId = this.nextTxId++;
    await this.call({ type: 'begin', txId });
    const tx: Queryable = {
      query: <R>(text: string, params: unknown[] = [], options: QueryOptions = {}) => this.queryIn<R>(txId, text, params, options),
    };
    let result: T;
    try {
      result = await run(tx);
    } catch (error) {
      // The caller hears why its transaction failed, not why the rollback did too.
      await this.call({ type: 'end', txId, commit: false }).catch(() => {});
      throw error;
    }
    await this.call({ type: 'end', txId, commit: true });
    return result;
  }

  /** Resolves once the thread listens; the result stops this handler (UNLISTEN after the last). */
  async listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    await this.serially(async () => {
      if (!this.listeners.has(channel)) {
        await this.call({ type: 'listen', channel });
        this.listeners.set(channel, new Set());
      }
      this.listeners.get(channel)!.add(handler);
    });
    return () =>
      this.serially(async () => {
        const handlers = this.listeners.get(channel);
        if (!handlers?.delete(handler) || handlers.size > 0) return;
        this.listeners.delete(channel);
        await this.call({ type: 'unlisten', channel });
      });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // Not yet open (or already dead): there is nothing to shut down cleanly, only the thread to end.
      if (this.ready && !this.stopped) await this.call({ type: 'close' });
    } finally {
      this.fail(new Error('the database is closed'));
      this.worker.terminate();
    }
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.listenQueue.then(operation, operation);
    this.listenQueue = next.catch(() => {});
    return next;
  }

  private fail(error: Error): void {
    this.stopped ??= error;
    this.failStart(error);
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  private async queryIn<T>(txId: number | undefined, text: string, params: unknown[], options: QueryOptions): Promise<QueryResult<T>> {
    const result = await this.call({ type: 'query', text, params, rowMode: options.rowMode, rawTypes: rawTypes(options.parsers), txId });
    if (!result) throw new Error('the database thread answered a query without a result');
    // The rows are what the statement selected; T is the caller's word for them, as with PGlite itself.
    return result as QueryResult<T>;
  }

  private call(message: Request): Promise<QueryResult | undefined> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.holdProcessOpen();
      try {
        this.worker.postMessage({ ...message, id } as ToDatabase);
      } catch (error) {
        // A parameter that cannot be cloned (a function, say) fails here, before the thread sees anything.
        this.pending.delete(id);
        this.holdProcessOpen();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * The thread keeps the process alive only while an answer is awaited, as PGlite in the
   * server's thread did: a program that forgets to close the database still ends.
   */
  private holdProcessOpen(): void {
    if (this.pending.size > 0 || !this.ready) this.worker.ref();
    else this.worker.unref();
  }

  private receive(message: Exclude<FromDatabase, { type: 'migrating' | 'ready' | 'init-failed' }>): void {
    if (message.type === 'notification') {
      // Every handler hears it, even after one throws; the first error is then thrown on.
      let firstError: unknown;
      for (const handler of this.listeners.get(message.channel) ?? []) {
        try {
          handler(message.payload);
        } catch (error) {
          firstError ??= error;
        }
      }
      if (firstError !== undefined) throw firstError;
      return;
    }
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    this.holdProcessOpen();
    if (message.type === 'done') waiting.resolve(message.result);
    else waiting.reject(databaseError(message.error));
  }
}
