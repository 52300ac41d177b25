import postgres from 'postgres';
import { DatabaseUnavailableError } from './unreachable';

/**
 * `select 1` on a connection of its own, outside the query pool: the answer says whether the
 * database can be reached, not whether the pool has a connection free (a busy pool is not an
 * outage). A ping that does not answer in time is abandoned together with its connection — on a
 * hung network that connection would hold every later ping behind it.
 */
export function createPinger(url: string, options: { applicationName: string; connectTimeoutSeconds: number }) {
  let client: postgres.Sql | null = null;
  let closed = false;

  const open = () =>
    postgres(url, {
      max: 1,
      fetch_types: false,
      onnotice: () => {},
      connect_timeout: options.connectTimeoutSeconds,
      // Never wait on postgres.js's growing backoff: a ping is asked when an answer is wanted now.
      backoff: () => 0,
      max_lifetime: null,
      connection: { application_name: options.applicationName },
    });

  /** One `select 1` on `current`; on any failure that client is dropped. */
  async function attempt(current: postgres.Sql, timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DatabaseUnavailableError(`the database did not answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    });
    try {
      await Promise.race([current`select 1`.execute(), timedOut]);
    } catch (error) {
      if (client === current) client = null;
      void current.end({ timeout: 0 }).catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async ping(timeoutMs: number): Promise<void> {
      if (closed) throw new Error('the database is closed');
      const startedAt = performance.now();
      const reused = client !== null;
      try {
        await attempt((client ??= open()), timeoutMs);
      } catch (error) {
        // A connection that was open before may just be stale (killed, or cut with the network
        // that is back now): only a fresh one failing too says the database cannot be reached.
        const left = timeoutMs - (performance.now() - startedAt);
        if (!reused || closed || left <= 0 || error instanceof DatabaseUnavailableError) throw error;
        await attempt((client = open()), left);
      }
    },
    async close(): Promise<void> {
      closed = true;
      const current = client;
      client = null;
      await current?.end({ timeout: 1 });
    },
  };
}

export type Pinger = ReturnType<typeof createPinger>;
