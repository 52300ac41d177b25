import { expect } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { Database } from '../../src/db/client';
import { events, users } from '../../src/db/schema';
import { AppError, type ErrorCode } from '../../src/lib/errors';

/** Helpers for tests that read or prepare the database beside the code under test. */

/** `count` users `<prefix>-<i>@example.com` with a password nobody can log in with; their ids in order. */
export async function insertUsers(db: Database, prefix: string, count: number): Promise<number[]> {
  const rows = await db
    .insert(users)
    .values(Array.from({ length: count }, (_, index) => ({ email: `${prefix}-${index}@example.com`, passwordHash: 'not-a-real-hash' })))
    .returning({ id: users.id });
  return rows.map((row) => row.id);
}

/** The event's row as stored, read afresh. */
export async function readEventRow(db: Database, eventId: number) {
  const [row] = await db.select().from(events).where(eq(events.id, eventId));
  return row!;
}

/** Runs `action`, expecting an AppError with this code, and returns it. */
export async function refusal(action: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  try {
    await action;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe(code);
    return error as AppError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}
