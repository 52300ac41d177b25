import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { and, eq, sql } from 'drizzle-orm';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DatabaseHandle } from '../../src/db/client';
import { queueEntries } from '../../src/db/schema';
import { openTestDatabase, registerUser, startTestServer, type TestServer } from '../support/server';

/**
 * The waiting room on the dashboard (SPEC §6, §9) in real Chromium: two users join a line before
 * the sale; at the lottery one page shows `admitted` and "Your turn" with a countdown, the other
 * its own place, which turns into `admitted` a pace's step later with no reload. Booking before
 * the sale, and before one's turn, says why it was refused; the admitted user books and both
 * pages see the seats go. Then an admission that ran out: Book says so, Rejoin gives a new turn.
 * One of the pages is a 390 px phone.
 */

const CHROMIUM = '/usr/bin/chromium';
// Click → HTTP → WebSocket → render takes ~25–200 ms here; the bound is generous for a busy machine.
const LIVE_UPDATE_MS = 5000;
/** 12 a minute: 5 s between two admissions, room to watch the second place before its turn. */
const RATE = 12;
const STEP_MS = 60_000 / RATE;
const ADMISSION_SECONDS = 60;
const PASSWORD = 'password123';
const PHONE = { width: 390, height: 844 };
const artifactsDirectory = fileURLToPath(new URL('../../artifacts/', import.meta.url));

interface QueueBody {
  ticket: number | null;
  position: number | null;
  status: 'waiting' | 'admitted' | 'expired';
}

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) {
    test('Chromium is installed for the dashboard tests', () => {
      throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install chromium) so the dashboard is tested in a browser`);
    });
  } else {
    console.warn(`tests/web/dashboard-queue.test.ts: SKIPPED, ${CHROMIUM} not found. Install Debian's chromium to run the dashboard tests in a real browser.`);
  }
} else {
  describe('the waiting room on the dashboard', () => {
    let database: DatabaseHandle;
    let server: TestServer;
    let browser: Browser;
    let organizer: string;
    /** Two buyers, each signed in on a page of their own; the second page is a phone. */
    const buyers: { token: string; userId: number; email: string; page: Page }[] = [];

    beforeAll(async () => {
      mkdirSync(artifactsDirectory, { recursive: true });
      database = await openTestDatabase();
      server = await startTestServer({ database, seed: false });
      organizer = (await registerUser(server, 'organizer')).token;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      });
      for (const viewport of [{ width: 1360, height: 900 }, PHONE]) {
        const user = await registerUser(server, 'buyer');
        const context = await browser.newContext({ viewport });
        context.setDefaultTimeout(10_000);
        buyers.push({ ...user, page: await context.newPage() });
      }
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await database?.close();
    });

    async function createEvent(name: string, fields: Record<string, unknown>): Promise<number> {
      const created = await server.request('POST', '/api/events', {
        token: organizer,
        body: { name, startsAt: '2031-01-01T20:00:00Z', capacity: 10, queueRatePerMinute: RATE, admissionSeconds: ADMISSION_SECONDS, ...fields },
      });
      expect(created.status).toBe(201);
      return created.body.event.id as number;
    }

    async function signIn(page: Page, email: string, eventId: number): Promise<void> {
      await page.goto(server.url);
      await page.fill('input[name="email"]', email);
      await page.fill('input[name="password"]', PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('[data-connection-state="open"]', { timeout: 10_000 });
      await page.locator(`[data-event-id="${eventId}"] [data-queue-status]`).waitFor({ timeout: 5000 });
    }

    const card = (page: Page, eventId: number) => page.locator(`[data-event-id="${eventId}"]`);
    const lineStatus = (page: Page, eventId: number) => card(page, eventId).locator('[data-queue-status]').getAttribute('data-queue-status');

    /** Waits until the event's place on the page reads exactly this. */
    async function expectPlace(page: Page, eventId: number, text: string, timeoutMs: number): Promise<void> {
      await page.waitForFunction(
        ([selector, expected]) => document.querySelector(selector as string)?.textContent === expected,
        [`[data-event-id="${eventId}"] [data-queue-position]`, text] as const,
        { timeout: timeoutMs },
      );
    }

    async function expectSeats(page: Page, eventId: number, seats: number): Promise<void> {
      await page.waitForFunction(
        ([selector, expected]) => document.querySelector(selector as string)?.textContent === expected,
        [`[data-event-id="${eventId}"] [data-available-seats]`, String(seats)] as const,
        { timeout: LIVE_UPDATE_MS },
      );
    }

    async function expectNotice(page: Page, text: string): Promise<void> {
      await page.locator('[data-notice]', { hasText: text }).waitFor({ timeout: LIVE_UPDATE_MS });
    }

    async function placeOf(token: string, eventId: number): Promise<QueueBody | null> {
      const answer = await server.request('GET', `/api/events/${eventId}/queue`, { token });
      expect(answer.status).toBe(200);
      return answer.body.queue as QueueBody | null;
    }

    async function book(page: Page, eventId: number, name: string, quantity: number): Promise<void> {
      await card(page, eventId).locator('select[name="quantity"]').selectOption(String(quantity));
      await card(page, eventId).getByRole('button', { name: `Book seats for ${name}` }).click();
    }

    const fitsThePhone = async (page: Page) => expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);

    test('both join before the sale; at the lottery one is admitted, the other watches its own place turn into "admitted" live; the admitted one books', async () => {
      const name = 'Launch night';
      // Far enough ahead to sign both in on a slow machine; brought near once both are in line.
      const eventId = await createEvent(name, { salesStartAt: new Date(Date.now() + 120_000).toISOString() });
      for (const { page, email } of buyers) await signIn(page, email, eventId);
      const [desk, phone] = buyers as [(typeof buyers)[0], (typeof buyers)[0]];

      for (const { page } of buyers) {
        expect(await lineStatus(page, eventId)).toBe('out');
        expect(await card(page, eventId).locator('[data-queue]').innerText()).toContain('drawn by lottery');
      }
      // Before the sale a booking is refused, and the page says when sales open.
      await book(desk.page, eventId, name, 1);
      await expectNotice(desk.page, 'Sales have not started: they open at');

      for (const { page } of buyers) {
        await card(page, eventId).getByRole('button', { name: `Join the line for ${name}` }).click();
        await card(page, eventId).locator('[data-queue-status="drawing"]').waitFor({ timeout: LIVE_UPDATE_MS });
        expect(await card(page, eventId).locator('[data-queue]').innerText()).toContain('Your place is drawn by lottery when sales open');
        expect(await card(page, eventId).locator('[data-queue-position]').textContent()).toBe('');
      }
      for (const { token } of buyers) expect(await placeOf(token, eventId)).toMatchObject({ ticket: null, status: 'waiting' });
      await fitsThePhone(phone.page);

      // Pages stay as they are from here on: a marker that a reload would wipe.
      for (const { page } of buyers) await page.evaluate(() => Object.assign(window, { notReloaded: true }));
      const salesStartAt = Date.now() + 1500;
      expect((await server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { salesStartAt: new Date(salesStartAt).toISOString() } })).status).toBe(200);

      // The lottery's order is random: the server says who drew ticket 1.
      let tickets: (number | null)[] = [null, null];
      const drawnBy = Date.now() + 10_000;
      while (tickets.includes(null) && Date.now() < drawnBy) {
        await Bun.sleep(100);
        tickets = await Promise.all(buyers.map(async ({ token }) => (await placeOf(token, eventId))?.ticket ?? null));
      }
      expect([...tickets].sort()).toEqual([1, 2]);
      const first = buyers[tickets.indexOf(1)]!;
      const second = buyers[tickets.indexOf(2)]!;

      // Ticket 1 is admitted at salesStartAt: "Your turn", with the admission's countdown.
      await expectPlace(first.page, eventId, 'admitted', LIVE_UPDATE_MS);
      const firstLine = card(first.page, eventId).locator('[data-queue]');
      expect((await firstLine.innerText()).toLowerCase()).toContain('your turn');
      // Ticket 2 sees its own place, not the other's.
      await expectPlace(second.page, eventId, '1', LIVE_UPDATE_MS);
      expect(await lineStatus(second.page, eventId)).toBe('waiting');
      expect(await card(second.page, eventId).locator('[data-queue]').innerText()).toContain('to your turn');

      // Booking before one's turn is refused, and the page says where one stands.
      await book(second.page, eventId, name, 1);
      await expectNotice(second.page, 'Not your turn yet: you are number 1 in line.');

      const countdown = Number(await firstLine.locator('[data-admission-countdown]').innerText());
      expect(countdown).toBeGreaterThan(ADMISSION_SECONDS - 10);
      expect(countdown).toBeLessThanOrEqual(ADMISSION_SECONDS);
      await first.page.waitForFunction(
        ([selector, from]) => Number(document.querySelector(selector as string)?.textContent) <= (from as number) - 1,
        [`[data-event-id="${eventId}"] [data-admission-countdown]`, countdown] as const,
        { timeout: 3000 },
      );

      // The admitted user books; both pages see the seats go.
      await book(first.page, eventId, name, 2);
      await expectNotice(first.page, `Booked 2 seats for ${name}`);
      for (const { page } of buyers) await expectSeats(page, eventId, 8);
      expect((await server.request('GET', '/api/bookings', { token: first.token })).body.bookings).toMatchObject([{ eventId, quantity: 2, status: 'confirmed' }]);

      // One pace's step after salesStartAt the second place turns into "admitted", live.
      await expectPlace(second.page, eventId, 'admitted', STEP_MS + LIVE_UPDATE_MS);
      expect(Date.now()).toBeGreaterThanOrEqual(salesStartAt + STEP_MS - 1000);
      expect((await card(second.page, eventId).locator('[data-queue]').innerText()).toLowerCase()).toContain('your turn');
      await card(second.page, eventId).locator('[data-admission-countdown]').waitFor({ timeout: 2000 });
      expect(await placeOf(second.token, eventId)).toMatchObject({ ticket: 2, position: 0, status: 'admitted' });
      for (const { page } of buyers) expect(await page.evaluate(() => 'notReloaded' in window)).toBe(true);
      await fitsThePhone(phone.page);
      await phone.page.screenshot({ path: `${artifactsDirectory}dashboard-queue-phone.png`, fullPage: true });
    }, 60_000);

    test('an admission that ran out: Book says so and the line shows it; Rejoin gives a new turn at the back, and booking works again', async () => {
      const name = 'Second show';
      // On sale now: the first joiner is admitted at once.
      const eventId = await createEvent(name, { salesStartAt: null });
      const { page, token, userId } = buyers[1]!;
      await page.reload();
      await page.waitForSelector('[data-connection-state="open"]', { timeout: 10_000 });
      await card(page, eventId).locator('[data-queue-status="out"]').waitFor({ timeout: 5000 });

      await card(page, eventId).getByRole('button', { name: `Join the line for ${name}` }).click();
      await expectPlace(page, eventId, 'admitted', LIVE_UPDATE_MS);
      await expectNotice(page, `It’s your turn for ${name}`);

      // The admission ends behind the page's back (as if the page had slept through it).
      await database.db
        .update(queueEntries)
        .set({ admitAt: sql`now() - ${ADMISSION_SECONDS + 1} * interval '1 second'` })
        .where(and(eq(queueEntries.eventId, eventId), eq(queueEntries.userId, userId)));
      expect(await placeOf(token, eventId)).toMatchObject({ status: 'expired' });

      await book(page, eventId, name, 1);
      await expectNotice(page, 'Your turn to book has ended: rejoin the line for a new one.');
      await card(page, eventId).locator('[data-queue-status="expired"]').waitFor({ timeout: 2000 });
      expect(await card(page, eventId).locator('[data-queue-position]').textContent()).toBe('');
      await fitsThePhone(page);

      await card(page, eventId).getByRole('button', { name: `Rejoin the line for ${name}` }).click();
      // Ticket 2, a pace's step after ticket 1 at most.
      await expectPlace(page, eventId, 'admitted', STEP_MS + LIVE_UPDATE_MS);
      expect(await placeOf(token, eventId)).toMatchObject({ ticket: 2, status: 'admitted' });
      await book(page, eventId, name, 3);
      await expectNotice(page, `Booked 3 seats for ${name}`);
      await expectSeats(page, eventId, 7);
    }, 60_000);
  });
}
