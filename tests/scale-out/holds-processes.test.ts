import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabaseUrl, sayNeedsPostgres, usingPostgres } from '../support/database';
import { callProcess, killServerProcesses, registerOn, startServerProcess, type ListeningServerProcess } from '../support/server-process';
import { connect, waitFor, type TestSocket } from '../support/ws';

/**
 * SPEC §8's guarantees with real server processes: a confirm racing the expiry, holds that
 * expired while no server ran, and (PostgreSQL) WORKERS=4 releasing each hold exactly once.
 */

const JWT_SECRET = 'holds-process-test-secret-of-at-least-32-characters';
const scratchDirs: string[] = [];

afterEach(() => {
  killServerProcesses();
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Where a server process keeps its data: a fresh PostgreSQL database, or PGlite under a scratch directory. */
async function freshStorage(): Promise<{ env: Record<string, string>; cwd?: string }> {
  if (usingPostgres()) return { env: { DATABASE_URL: await createTestDatabaseUrl() } };
  const cwd = mkdtempSync(join(tmpdir(), 'seatwatch-holds-'));
  scratchDirs.push(cwd);
  return { env: {}, cwd };
}

type Server = ListeningServerProcess;

async function createEvent(server: Server, token: string, capacity: number): Promise<number> {
  const answer = await callProcess(server, 'POST', '/api/events', token, { name: 'Holds in processes', startsAt: '2031-01-01T20:00:00Z', capacity });
  expect(answer.status).toBe(201);
  return answer.body.event.id;
}

const eventOf = async (server: Server, eventId: number) => (await callProcess(server, 'GET', `/api/events/${eventId}`)).body.event;

test('a confirm racing the expiry (HOLD_TTL_SECONDS=2) either books (201) or answers hold_expired (410), never both; every seat accounted for', async () => {
  const storage = await freshStorage();
  const server = await startServerProcess({ ...storage.env, JWT_SECRET, HOLD_TTL_SECONDS: '2', LOG_LEVEL: 'warn' }, { cwd: storage.cwd });
  const organizer = await registerOn(server, 'organizer');
  const eventId = await createEvent(server, organizer, 100);
  const buyers = await Promise.all(Array.from({ length: 6 }, (_, index) => registerOn(server, `buyer${index}`)));
  // Five holds each, made at once so that all of them are still ahead of their expiry below.
  const created = await Promise.all(buyers.flatMap((token) => Array.from({ length: 5 }, () => callProcess(server, 'POST', '/api/holds', token, { eventId }).then((answer) => ({ token, answer })))));
  const made = created.map(({ token, answer }) => {
    expect(answer.status).toBe(201);
    return { token, holdId: answer.body.hold.id as number, expiresAt: Date.parse(answer.body.hold.expiresAt) };
  });
  // Confirms fired from 500 ms before to 500 ms after each hold's expiry.
  const outcomes = await Promise.all(
    made.map(async ({ token, holdId, expiresAt }, index) => {
      const offsetMs = -500 + (1_000 * index) / (made.length - 1);
      await Bun.sleep(Math.max(0, expiresAt + offsetMs - Date.now()));
      const answer = await callProcess(server, 'POST', `/api/holds/${holdId}/confirm`, token);
      return { token, holdId, answer };
    }),
  );
  await Bun.sleep(1_500);
  let booked = 0;
  for (const { token, holdId, answer } of outcomes) {
    expect([201, 410]).toContain(answer.status);
    const after = (await callProcess(server, 'GET', `/api/holds/${holdId}`, token)).body.hold;
    if (answer.status === 201) {
      booked += 1;
      expect(after).toMatchObject({ status: 'confirmed', bookingId: answer.body.booking.id });
      expect((await callProcess(server, 'GET', `/api/bookings/${answer.body.booking.id}`, token)).body.booking.status).toBe('confirmed');
    } else {
      expect(answer.body.error.code).toBe('hold_expired');
      expect(after).toMatchObject({ status: 'expired', bookingId: null });
    }
  }
  // The spread reached both sides of the edge.
  expect(booked).toBeGreaterThan(0);
  expect(booked).toBeLessThan(outcomes.length);
  expect(await eventOf(server, eventId)).toMatchObject({ capacity: 100, heldSeats: 0, availableSeats: 100 - booked });
  server.child.kill('SIGTERM');
  expect(await server.child.exited).toBe(0);
}, 90_000);

test('holds that expired while no server ran come back within 1 s of start-up, once', async () => {
  const storage = await freshStorage();
  const env = { ...storage.env, JWT_SECRET, HOLD_TTL_SECONDS: '5', LOG_LEVEL: 'info' };
  const first = await startServerProcess(env, { cwd: storage.cwd });
  const organizer = await registerOn(first, 'organizer');
  const eventId = await createEvent(first, organizer, 10);
  const holder = await registerOn(first, 'holder');
  const holdIds: number[] = [];
  let expiresAtOfLast = '';
  for (const quantity of [1, 2, 3]) {
    const held = (await callProcess(first, 'POST', '/api/holds', holder, { eventId, quantity })).body.hold;
    holdIds.push(held.id);
    expiresAtOfLast = held.expiresAt;
  }
  expect(await eventOf(first, eventId)).toMatchObject({ availableSeats: 4, heldSeats: 6 });
  // PostgreSQL: a crash. PGlite keeps its files consistent only through a clean stop.
  first.child.kill(usingPostgres() ? 'SIGKILL' : 'SIGTERM');
  await first.child.exited;
  // All three are due while no server runs.
  await Bun.sleep(Math.max(0, Date.parse(expiresAtOfLast) - Date.now()) + 500);

  const second = await startServerProcess(env, { cwd: storage.cwd });
  const listeningAt = Date.now();
  let event = await eventOf(second, eventId);
  while (event.heldSeats !== 0 && Date.now() - listeningAt < 5_000) {
    await Bun.sleep(20);
    event = await eventOf(second, eventId);
  }
  expect(Date.now() - listeningAt).toBeLessThan(1_000);
  expect(event).toMatchObject({ availableSeats: 10, heldSeats: 0 });
  for (const holdId of holdIds) expect((await callProcess(second, 'GET', `/api/holds/${holdId}`, holder)).body.hold.status).toBe('expired');
  // One release for the three: one version after the three holds' own.
  expect(event.version).toBe(1 + 3 + 1);
  second.child.kill('SIGTERM');
  expect(await second.child.exited).toBe(0);
}, 90_000);

if (!usingPostgres()) {
  sayNeedsPostgres('SPEC §8 with WORKERS=4 (each hold released once across processes)');
} else {
  test('WORKERS=4 on PostgreSQL: every hold is released once; its owner hears hold_expired once on each connection, whichever process holds it', async () => {
    const databaseUrl = await createTestDatabaseUrl();
    const server = await startServerProcess({ DATABASE_URL: databaseUrl, JWT_SECRET, WORKERS: '4', HOLD_TTL_SECONDS: '3', HOLD_WARNING_SECONDS: '2', LOG_LEVEL: 'info' });
    await waitFor(() => server.logLines.filter((line) => String(line.msg).startsWith('Seatwatch listening on ')).length === 4, 30_000, 'four workers listening');
    const organizer = await registerOn(server, 'organizer');
    const eventId = await createEvent(server, organizer, 200);
    const owners = await Promise.all(Array.from({ length: 4 }, (_, index) => registerOn(server, `owner${index}`)));
    // Eight connections per owner: the kernel spreads them over the four workers.
    const tabsByOwner: TestSocket[][] = owners.map((token) => Array.from({ length: 8 }, () => connect(`ws://127.0.0.1:${server.port}/ws?token=${token}`)));
    const watchers = Array.from({ length: 8 }, () => connect(`ws://127.0.0.1:${server.port}/ws/events/${eventId}?token=${organizer}`));
    await Promise.all([...tabsByOwner.flat().map((tab) => tab.nextOfType('connection_established')), ...watchers.map((watcher) => watcher.nextOfType('subscribed'))]);

    const holdsByOwner: number[][] = await Promise.all(
      owners.map(async (token) => {
        const ids: number[] = [];
        for (let i = 0; i < 10; i++) ids.push((await callProcess(server, 'POST', '/api/holds', token, { eventId })).body.hold.id);
        return ids;
      }),
    );
    const total = holdsByOwner.flat().length;
    expect(total).toBe(40);
    await waitFor(() => tabsByOwner.every((tabs, owner) => tabs.every((tab) => tab.messages.filter((message) => message.type === 'hold_expired').length === holdsByOwner[owner]!.length)), 15_000, 'every hold_expired');
    // Two more sweeps of every worker: nothing repeats.
    await Bun.sleep(800);
    for (const [owner, tabs] of tabsByOwner.entries()) {
      for (const tab of tabs) {
        const expiredIds = tab.messages.filter((message) => message.type === 'hold_expired').map((message) => message.holdId).sort((a, b) => a - b);
        expect(expiredIds).toEqual([...holdsByOwner[owner]!].sort((a, b) => a - b));
        const warnedIds = tab.messages.filter((message) => message.type === 'hold_expiring').map((message) => message.holdId);
        expect(new Set(warnedIds).size).toBe(warnedIds.length);
        expect(warnedIds).toHaveLength(holdsByOwner[owner]!.length);
      }
    }
    const final = await eventOf(server, eventId);
    expect(final).toMatchObject({ availableSeats: 200, heldSeats: 0 });
    // Each release bumped the version once, and nothing was released twice: 40 holds, then at most 40 releases.
    expect(final.version).toBeGreaterThan(1 + total);
    expect(final.version).toBeLessThanOrEqual(1 + 2 * total);
    for (const watcher of watchers) {
      const seatMessages = watcher.messages.filter((message) => 'availableSeats' in message);
      expect(seatMessages.at(-1)).toMatchObject({ availableSeats: 200, heldSeats: 0, version: final.version });
    }
    for (const socket of [...tabsByOwner.flat(), ...watchers]) socket.close();
    server.child.kill('SIGTERM');
    expect(await server.child.exited).toBe(0);
  }, 90_000);
}
