import { sql } from 'drizzle-orm';
import type { Database } from './client';
import { events, users } from './schema';

export const DEMO_PASSWORD = 'password';
/**
 * DEMO_PASSWORD hashed once, as `hashPassword` in lib/password.ts does (argon2id): hashing it at every first start
 * cost ~0.4 s of the start-up. The password is public, so a shared salt gives nothing away.
 */
export const DEMO_PASSWORD_HASH = '$argon2id$v=19$m=65536,t=2,p=1$NLHtz2eTWfWUWPGyaUJGy4CMWZPRDuzTUCuQ7P+ZBhQ$ZiuhEcM6kn8vawYMKEiEcj74CX82z/tr2+o8cDvvQ94';

const inDays = (days: number, hour = 20) => {
  const date = new Date();
  date.setUTCDate(date.getUTCDate() + days);
  date.setUTCHours(hour, 0, 0, 0);
  return date;
};

/**
 * Demo data for trying Seatwatch by hand. Loads only into an empty database, so it is safe to
 * run at every start; returns whether it loaded anything. `onLoading` hears when it finds the
 * database empty and starts loading.
 */
export async function seedDemoData(db: Database, onLoading?: () => void): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Two processes starting together must not both see an empty table.
    await tx.execute(sql`select pg_advisory_xact_lock(827342)`);
    const [existing] = await tx.select({ count: sql<number>`count(*)::int` }).from(users);
    if ((existing?.count ?? 0) > 0) return false;
    onLoading?.();
    const passwordHash = DEMO_PASSWORD_HASH;
    const [testUser, alice] = await tx
      .insert(users)
      .values([
        { email: 'test@example.com', name: 'Test User', passwordHash },
        { email: 'alice@example.com', name: 'Alice', passwordHash },
      ])
      .returning();
    const organizerId = testUser!.id;
    await tx.insert(events).values([
      { name: 'Demo Concert', description: 'The demo event: 50 seats, watch them go.', venue: 'Main Hall', startsAt: inDays(30), capacity: 50, availableSeats: 50, status: 'published', organizerId },
      { name: 'Jazz Night', description: 'An evening of standards.', venue: 'Blue Room', startsAt: inDays(14, 21), capacity: 120, availableSeats: 120, status: 'published', organizerId },
      { name: 'Tech Talk: Real-time Systems', description: 'WebSockets, fan-out and never overselling.', venue: 'Auditorium B', startsAt: inDays(7, 18), capacity: 200, availableSeats: 200, status: 'published', organizerId: alice!.id },
      { name: 'Tiny Theatre Matinee', description: 'Only a handful of seats.', venue: 'Studio 3', startsAt: inDays(3, 15), capacity: 5, availableSeats: 5, status: 'published', organizerId },
      { name: 'Secret Rehearsal', description: 'A draft: only its organizer sees it.', venue: 'Basement', startsAt: inDays(60), capacity: 30, availableSeats: 30, status: 'draft', organizerId },
    ]);
    return true;
  });
}
