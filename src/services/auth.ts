import { eq, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { users, type UserRow } from '../db/schema';
import { errors } from '../lib/errors';
import { hashPassword, verifyPassword } from '../lib/password';

export interface PublicUser {
  id: number;
  email: string;
  name: string | null;
}

export function toPublicUser(row: Pick<UserRow, 'id' | 'email' | 'name'>): PublicUser {
  return { id: row.id, email: row.email, name: row.name };
}

// Verified against when the email is unknown, so both failures cost the same time.
const unknownUserHash = hashPassword('seatwatch-timing-equaliser');

export async function registerUser(db: Database, input: { email: string; password: string; name?: string | null }): Promise<PublicUser> {
  const passwordHash = await hashPassword(input.password);
  try {
    const [row] = await db
      .insert(users)
      .values({ email: input.email.trim(), name: input.name?.trim() || null, passwordHash })
      .returning();
    return toPublicUser(row!);
  } catch (error) {
    if (databaseErrorCode(error) === '23505') throw errors.emailTaken();
    throw error;
  }
}

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email.trim()})`)
    .limit(1);
  return row;
}

export async function authenticate(db: Database, email: string, password: string): Promise<PublicUser> {
  const row = await findUserByEmail(db, email);
  const valid = await verifyPassword(password, row?.passwordHash ?? (await unknownUserHash));
  if (!row || !valid) throw errors.invalidCredentials();
  return toPublicUser(row);
}

export async function getUser(db: Database, userId: number): Promise<PublicUser> {
  const [row] = await db.select({ id: users.id, email: users.email, name: users.name }).from(users).where(eq(users.id, userId)).limit(1);
  if (!row) throw errors.accountGone();
  return row;
}
