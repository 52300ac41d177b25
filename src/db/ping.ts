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

  return {
    async ping(timeoutMs: number): Promise<void> {
      if (closed) throw new Error('the database is closed');
      const current = (client ??= open());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DatabaseUnavailableError(`the database did not answer within ${timeoutMs} ms`)), timeoutMs);
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
