import { eq, inArray } from 'drizzle-orm';
import type { DatabaseHandle } from '../db/client';
import { users } from '../db/schema';
import { describeError } from '../lib/error-description';
import type { Logger } from '../lib/logger';
import type { Tokens } from '../lib/tokens';

/**
 * Which users still exist, so a token outliving its account is refused everywhere. A token is
 * checked on every request and upgrade; a query each time would add a round trip to every
 * booking, so ids seen to exist are remembered (up to `capacity`) and the database says when
 * one goes: a trigger on `users` (drizzle/0001_user_deleted_notify.sql) notifies every process
 * on `user_deleted`, with the id, or `*` after a TRUNCATE.
 */

export const USER_DELETED_CHANNEL = 'user_deleted';

/** ~100,000 ids take a few MB; a user pushed out costs one query on their next request. */
const KNOWN_USERS_CAPACITY = 100_000;
/** Deleted ids remembered so a check or an upgrade already under way cannot bring one back. */
const DELETED_USERS_CAPACITY = 10_000;
/** Ids per existence query when re-checking connected users. */
const IDS_PER_QUERY = 5_000;

export interface KnownUsersOptions {
  logger: Logger;
  /** Users with open connections, re-checked when a deletion may have gone unheard (TRUNCATE, a LISTEN outage). */
  connectedUserIds(): Iterable<number>;
  /** Users found gone: their connections must be closed. */
  onDeleted(userIds: number[]): void;
  capacity?: number;
}

export type KnownUsers = Awaited<ReturnType<typeof createKnownUsers>>;

/** A Set that drops its oldest entry past `capacity` (a Set iterates in insertion order). */
function boundedSet(capacity: number) {
  const ids = new Set<number>();
  return {
    ids,
    add(id: number) {
      if (ids.has(id)) return;
      if (ids.size >= capacity) ids.delete(ids.values().next().value!);
      ids.add(id);
    },
  };
}

export async function createKnownUsers(database: DatabaseHandle, options: KnownUsersOptions) {
  const { db } = database;
  const { logger } = options;
  const known = boundedSet(options.capacity ?? KNOWN_USERS_CAPACITY);
  const deleted = boundedSet(DELETED_USERS_CAPACITY);
  const checksInFlight = new Map<number, Promise<boolean>>();
  // Only while LISTEN is up is a remembered id kept current; otherwise every check asks the database.
  let listening = false;
  // Bumped whenever remembered ids may have gone stale, so a check that began before keeps nothing.
  let generation = 0;
  let hasListened = false;

  function forgetAll(): void {
    generation += 1;
    known.ids.clear();
    checksInFlight.clear();
  }

  function markDeleted(userIds: number[]): void {
    if (userIds.length === 0) return;
    generation += 1;
    for (const id of userIds) {
      known.ids.delete(id);
      checksInFlight.delete(id);
      deleted.add(id);
    }
    options.onDeleted(userIds);
  }

  /** One query per id at a time, however many requests ask meanwhile. */
  function check(userId: number): Promise<boolean> {
    const startedIn = generation;
    const pending: Promise<boolean> = db
      .select({ id: users.id })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1)
      .then((rows) => {
        if (rows.length === 0 || deleted.ids.has(userId)) return false;
        if (listening && startedIn === generation) known.add(userId);
        return true;
      })
      .finally(() => {
        if (checksInFlight.get(userId) === pending) checksInFlight.delete(userId);
      });
    checksInFlight.set(userId, pending);
    return pending;
  }

  /** Which of these ids have no users row any more. */
  async function missingOf(userIds: number[]): Promise<number[]> {
    const missing: number[] = [];
    for (let start = 0; start < userIds.length; start += IDS_PER_QUERY) {
      const chunk = userIds.slice(start, start + IDS_PER_QUERY);
      const rows = await db.select({ id: users.id }).from(users).where(inArray(users.id, chunk));
      const present = new Set(rows.map((row) => row.id));
      for (const id of chunk) if (!present.has(id)) missing.push(id);
    }
    return missing;
  }

  /** After a deletion that named no one: close the connections of whoever is gone. */
  async function recheckConnected(): Promise<void> {
    try {
      markDeleted(await missingOf([...new Set(options.connectedUserIds())]));
    } catch (error) {
      logger.warn('known users: re-checking connected users failed', { ...describeError(error) });
    }
  }

  function handleNotification(payload: string): void {
    if (payload === '*') {
      forgetAll();
      void recheckConnected();
      return;
    }
    const userId = Number(payload);
    if (Number.isInteger(userId) && userId > 0) markDeleted([userId]);
  }

  const stopListening = await database.listen(USER_DELETED_CHANNEL, handleNotification, {
    onListen() {
      forgetAll();
      listening = true;
      // Deletions during an outage were not heard: the open connections are checked once.
      if (hasListened) void recheckConnected();
      hasListened = true;
    },
    onListenLost() {
      listening = false;
      forgetAll();
    },
  });

  return {
    /** Whether the user's row exists: from memory for a user seen before, else one query. */
    exists(userId: number): boolean | Promise<boolean> {
      if (known.ids.has(userId)) return true;
      if (deleted.ids.has(userId)) return false;
      return checksInFlight.get(userId) ?? check(userId);
    },
    /** Deleted since this process started listening (remembered for the last 10,000). */
    wasDeleted: (userId: number) => deleted.ids.has(userId),
    // Nothing to stop once the database is closed.
    stop: () => stopListening().catch(() => {}),
  };
}

/** `tokens`, whose verify also refuses a token whose user no longer exists. */
export function tokensOfExistingUsers(tokens: Tokens, knownUsers: Pick<KnownUsers, 'exists'>): Tokens {
  return {
    sign: tokens.sign,
    async verify(token) {
      const verified = await tokens.verify(token);
      if (!verified) return null;
      return (await knownUsers.exists(verified.user.id)) ? verified : null;
    },
  };
}
