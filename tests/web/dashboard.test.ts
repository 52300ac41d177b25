import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { DatabaseHandle } from '../../src/db/client';
import { events, users } from '../../src/db/schema';
import { bookSeats } from '../../src/services/booking';
import { createInProcessSeatFeed } from '../../src/services/seat-feed';
import { login, openTestDatabase, registerUser, startTestServer, type TestServer } from '../support/server';

/**
 * The dashboard in real Chromium (Debian's, driven by playwright-core): two signed-in users on
 * the same events, one's bookings moving the other's counts live, and the connection indicator
 * through a server restart on the same port and database; then a 390 px phone: the layout, a
 * seat count falling below the quantity picked, and the connection banner while scrolling.
 */

const CHROMIUM = '/usr/bin/chromium';
// Click → HTTP → WebSocket → render takes ~25–200 ms here; the bound is generous for a busy machine.
const LIVE_UPDATE_MS = 5000;
const artifactsDirectory = fileURLToPath(new URL('../../artifacts/', import.meta.url));

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) {
    test('Chromium is installed for the dashboard tests', () => {
      throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install chromium) so the dashboard is tested in a browser`);
    });
  } else {
    // Outside CI a machine with nothing but Bun still passes `bun test`; it is told plainly what did not run.
    console.warn(`tests/web/dashboard.test.ts: SKIPPED, ${CHROMIUM} not found. Install Debian's chromium to run the dashboard tests in a real browser.`);
  }
} else {
  describe('dashboard in Chromium', () => {
    let database: DatabaseHandle;
    let server: TestServer;
    let browser: Browser;
    let contexts: BrowserContext[] = [];
    /** test@example.com */
    let buyer: Page;
    /** alice@example.com, watching the same events */
    let watcher: Page;

    beforeAll(async () => {
      mkdirSync(artifactsDirectory, { recursive: true });
      database = await openTestDatabase();
      server = await startTestServer({ database });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      });
      contexts = [await browser.newContext({ viewport: { width: 1360, height: 900 } }), await browser.newContext({ viewport: { width: 1360, height: 900 } })];
      for (const context of contexts) context.setDefaultTimeout(10_000);
      buyer = await contexts[0]!.newPage();
      watcher = await contexts[1]!.newPage();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await database?.close();
    });

    const indicator = (page: Page) => page.locator('[data-connection-state]');

    /** Waits until the page shows this count for the event, at most `timeoutMs`. */
    async function expectCount(page: Page, eventId: number, count: number, timeoutMs: number): Promise<void> {
      await page.waitForFunction(
        ([selector, expected]) => document.querySelector(selector as string)?.textContent === String(expected),
        [`[data-event-id="${eventId}"] [data-available-seats]`, count] as const,
        { timeout: timeoutMs },
      );
    }

    async function expectState(page: Page, state: string, timeoutMs: number): Promise<void> {
      await page.waitForSelector(`[data-connection-state="${state}"]`, { timeout: timeoutMs });
    }

    async function seatsInDatabase(eventId: number): Promise<number> {
      const [row] = await database.db.select({ availableSeats: events.availableSeats }).from(events).where(eq(events.id, eventId));
      return row!.availableSeats;
    }

    async function signIn(page: Page, email: string): Promise<void> {
      await page.goto(server.url);
      await page.fill('input[name="email"]', email);
      await page.fill('input[name="password"]', 'password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expectState(page, 'open', 10_000);
      await expectCount(page, 1, await seatsInDatabase(1), 5000);
    }

    test('a new visitor sees the sign-in form prefilled; signing in shows live events', async () => {
      await buyer.goto(server.url);
      expect(await buyer.inputValue('input[name="email"]')).toBe('test@example.com');
      expect(await buyer.inputValue('input[name="password"]')).toBe('password');
      expect(await indicator(buyer).getAttribute('data-connection-state')).toBe('closed');
      expect(await indicator(buyer).innerText()).toContain('Offline');
      await buyer.screenshot({ path: `${artifactsDirectory}dashboard-sign-in.png` });

      await buyer.getByRole('button', { name: 'Sign in' }).click();
      await expectState(buyer, 'open', 10_000);
      expect(await indicator(buyer).innerText()).toContain('Connected');
      await expectCount(buyer, 1, 50, 5000);
      expect(await buyer.locator('[data-event-id]').count()).toBeGreaterThanOrEqual(4);
      // The organizer's own draft is listed, not on sale.
      expect(await buyer.locator('[data-event-id]', { hasText: 'Secret Rehearsal' }).locator('[data-action="book"]').count()).toBe(0);
      await buyer.locator('[data-message-log] code', { hasText: '"type":"subscribed"' }).first().waitFor({ timeout: 5000 });

      await signIn(watcher, 'alice@example.com');
      expect(await watcher.locator('[data-account-name]').innerText()).toBe('Alice');
    }, 30_000);

    test("one user's booking and cancellation move the other user's count within a second, without reload", async () => {
      const before = await seatsInDatabase(1);
      const buyerCard = buyer.locator('[data-event-id="1"]');
      await buyerCard.locator('select[name="quantity"]').selectOption('2');
      await buyerCard.getByRole('button', { name: 'Book seats for Demo Concert' }).click();
      await expectCount(watcher, 1, before - 2, LIVE_UPDATE_MS);
      await expectCount(buyer, 1, before - 2, LIVE_UPDATE_MS);
      expect(await seatsInDatabase(1)).toBe(before - 2);

      const booking = buyer.locator('[data-booking-id][data-status="confirmed"]', { hasText: 'Demo Concert' }).first();
      await booking.waitFor({ timeout: 5000 });
      expect(await booking.innerText()).toContain('2 seats');
      await buyer.locator('[data-notice]', { hasText: 'Booked 2 seats for Demo Concert' }).waitFor({ timeout: 5000 });

      await booking.getByRole('button', { name: /Cancel booking #\d+: 2 seats for Demo Concert/ }).click();
      await expectCount(watcher, 1, before, LIVE_UPDATE_MS);
      await expectCount(buyer, 1, before, LIVE_UPDATE_MS);
      await buyer.locator('[data-booking-id][data-status="cancelled"]', { hasText: 'Demo Concert' }).first().waitFor({ timeout: 5000 });
      expect(await seatsInDatabase(1)).toBe(before);
      // The raw panel saw both broadcasts.
      await watcher.locator('[data-message-log] code', { hasText: '"type":"booking_cancelled"' }).first().waitFor({ timeout: 5000 });
      expect(await watcher.locator('[data-message-log] code', { hasText: '"type":"booking_created"' }).count()).toBeGreaterThan(0);
    }, 30_000);

    test('selling the last seats shows sold out to everyone; booking works from the keyboard', async () => {
      // Tiny Theatre Matinee: 5 seats.
      const tinyId = Number(await buyer.locator('[data-event-id]', { hasText: 'Tiny Theatre Matinee' }).getAttribute('data-event-id'));
      const card = buyer.locator(`[data-event-id="${tinyId}"]`);
      await card.locator('select[name="quantity"]').selectOption('5');
      await card.locator('select[name="quantity"]').focus();
      await buyer.keyboard.press('Tab');
      expect(await buyer.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Book seats for Tiny Theatre Matinee');
      await buyer.keyboard.press('Enter');

      await expectCount(watcher, tinyId, 0, LIVE_UPDATE_MS);
      const watcherCard = watcher.locator(`[data-event-id="${tinyId}"]`);
      await watcherCard.locator('.badge-sold-out').waitFor({ state: 'visible', timeout: 2000 });
      expect(await watcherCard.getAttribute('class')).toContain('is-sold-out');
      expect(await watcherCard.locator('[data-action="book"]').isDisabled()).toBe(true);
      expect(await watcherCard.locator('[data-action="book"]').innerText()).toBe('Sold out');
    }, 30_000);

    test('a booking made on another device shows in My bookings when the tab is looked at again', async () => {
      const [alice] = await database.db.select({ id: users.id }).from(users).where(eq(users.email, 'alice@example.com'));
      const techTalk = watcher.locator('[data-booking-id][data-status="confirmed"]', { hasText: 'Tech Talk' });
      expect(await techTalk.count()).toBe(0);
      await bookSeats(database.db, createInProcessSeatFeed(), { userId: alice!.id, eventId: 3, quantity: 1 });
      await Bun.sleep(300);
      expect(await techTalk.count()).toBe(0);
      await watcher.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
      await techTalk.first().waitFor({ timeout: 5000 });
    }, 30_000);

    test('the indicator shows reconnecting while the server is away and connected when it returns, with the right count', async () => {
      const port = server.port;
      await server.stop();
      await expectState(buyer, 'reconnecting', 5000);
      await expectState(watcher, 'reconnecting', 5000);
      expect(await indicator(watcher).innerText()).toContain('Reconnecting');
      expect(await watcher.locator('[data-banner]').isVisible()).toBe(true);
      await watcher.screenshot({ path: `${artifactsDirectory}dashboard-reconnecting.png` });

      // Seats sold while no server runs: only the database knows.
      const [alice] = await database.db.select({ id: users.id }).from(users).where(eq(users.email, 'alice@example.com'));
      await bookSeats(database.db, createInProcessSeatFeed(), { userId: alice!.id, eventId: 1, quantity: 3 });
      const expected = await seatsInDatabase(1);

      server = await startTestServer({ database, config: { port } });
      // The page backs off up to 10 s between attempts; bounded well above that.
      await expectState(watcher, 'open', 20_000);
      await expectState(buyer, 'open', 20_000);
      expect(await indicator(watcher).innerText()).toContain('Connected');
      expect(await watcher.locator('[data-banner]').isVisible()).toBe(false);
      await expectCount(watcher, 1, expected, 5000);
      await expectCount(buyer, 1, expected, 5000);
      // Alice's booking made while away appears in her list after the reconnect.
      await watcher.locator('[data-booking-id][data-status="confirmed"]', { hasText: 'Demo Concert' }).first().waitFor({ timeout: 5000 });

      // Live again on the new server.
      await buyer.locator('[data-event-id="2"]').getByRole('button', { name: 'Book seats for Jazz Night' }).click();
      await expectCount(watcher, 2, 119, LIVE_UPDATE_MS);

      await buyer.mouse.move(0, 0);
      await buyer.locator('[data-notice]').waitFor({ state: 'hidden', timeout: 10_000 });
      await buyer.screenshot({ path: `${artifactsDirectory}dashboard.png`, fullPage: true });
    }, 60_000);
  });

  describe('dashboard on a 390 px phone', () => {
    const PHONE = { width: 390, height: 844 };
    let server: TestServer;
    let browser: Browser;
    let page: Page;
    /** Another user, booking over HTTP as if from another device */
    let otherToken: string;

    beforeAll(async () => {
      mkdirSync(artifactsDirectory, { recursive: true });
      server = await startTestServer();
      otherToken = (await registerUser(server, 'elsewhere')).token;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      });
      const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      context.setDefaultTimeout(10_000);
      page = await context.newPage();
      await page.goto(server.url);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('[data-connection-state="open"]', { timeout: 10_000 });
      await page.waitForSelector('[data-event-id="1"]', { timeout: 10_000 });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    /** Where an element is on screen, in CSS pixels of the viewport. */
    const boxOf = (selector: string) =>
      page.evaluate((target) => {
        const rect = document.querySelector(target)!.getBoundingClientRect();
        return { left: rect.left, right: rect.right, top: rect.top, bottom: rect.bottom, width: rect.width, height: rect.height };
      }, selector);

    const insideViewport = (box: { left: number; right: number; top: number; bottom: number; width: number; height: number }) =>
      box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0 && box.right <= PHONE.width && box.bottom <= PHONE.height;

    test('the page fits 390 px: no horizontal scroll; Sign out and the connection state are on screen', async () => {
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      const signOut = await boxOf('[data-action="sign-out"]');
      expect({ signOut, inside: insideViewport(signOut) }).toEqual({ signOut, inside: true });
      const connection = await boxOf('[data-connection-state]');
      expect({ connection, inside: insideViewport(connection) }).toEqual({ connection, inside: true });
      expect(await page.locator('[data-action="sign-out"]').isVisible()).toBe(true);
      await page.screenshot({ path: `${artifactsDirectory}dashboard-phone.png` });
    }, 30_000);

    test('seats falling below the quantity picked: a notice says so, and Book waits for a new pick', async () => {
      const tinyId = Number(await page.locator('[data-event-id]', { hasText: 'Tiny Theatre Matinee' }).getAttribute('data-event-id'));
      const card = page.locator(`[data-event-id="${tinyId}"]`);
      const picker = card.locator('select[name="quantity"]');
      const bookButton = card.locator('[data-action="book"]');
      const notice = card.locator('[data-pick-notice]');
      const bookElsewhere = async (quantity: number) => {
        const response = await server.request('POST', '/api/bookings', { token: otherToken, body: { eventId: tinyId, quantity } });
        expect(response.status).toBe(201);
        return response.body.booking.id as number;
      };

      await picker.selectOption('5');
      const elsewhere = await bookElsewhere(2);
      await card.locator('[data-available-seats]', { hasText: /^3$/ }).waitFor({ timeout: 5000 });
      await notice.waitFor({ state: 'visible', timeout: 2000 });
      expect(await notice.innerText()).toBe('Only 3 left — you picked 5. Choose how many to book.');
      // Nothing is booked that the user did not choose: no quantity is picked until they pick one.
      expect(await picker.inputValue()).toBe('');
      expect(await bookButton.isDisabled()).toBe(true);
      expect(await picker.locator('option:not([disabled])').allInnerTexts()).toEqual(['1', '2', '3']);
      await card.screenshot({ path: `${artifactsDirectory}dashboard-phone-picked-more.png` });

      // The seats come back: the pick stands again.
      expect((await server.request('DELETE', `/api/bookings/${elsewhere}`, { token: otherToken })).status).toBe(200);
      await card.locator('[data-available-seats]', { hasText: /^5$/ }).waitFor({ timeout: 5000 });
      await notice.waitFor({ state: 'hidden', timeout: 2000 });
      expect(await picker.inputValue()).toBe('5');
      expect(await bookButton.isEnabled()).toBe(true);

      // Sold again elsewhere; this time the user settles for 3 and books exactly 3.
      await bookElsewhere(2);
      await notice.waitFor({ state: 'visible', timeout: 5000 });
      expect(await bookButton.isDisabled()).toBe(true);
      await picker.selectOption('3');
      await notice.waitFor({ state: 'hidden', timeout: 2000 });
      await bookButton.click();
      await page.locator('[data-notice]', { hasText: 'Booked 3 seats for Tiny Theatre Matinee' }).waitFor({ timeout: 5000 });
      const mine = await server.request('GET', '/api/bookings', { token: await login(server) });
      expect(mine.body.bookings.filter((booking: { eventId: number }) => booking.eventId === tinyId).map((booking: { quantity: number }) => booking.quantity)).toEqual([3]);
      await card.locator('[data-available-seats]', { hasText: /^0$/ }).waitFor({ timeout: 5000 });
    }, 30_000);

    test('the connection-lost banner stays in view while the page is scrolled', async () => {
      await server.stop();
      await page.waitForSelector('[data-connection-state="reconnecting"]', { timeout: 5000 });
      await page.locator('[data-banner]').waitFor({ state: 'visible', timeout: 2000 });
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await page.waitForFunction(() => window.scrollY > 500, undefined, { timeout: 2000 });
      const banner = await boxOf('[data-banner]');
      expect({ banner, inside: insideViewport(banner) }).toEqual({ banner, inside: true });
      expect(await page.locator('[data-banner]').innerText()).toContain('Connection lost');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: `${artifactsDirectory}dashboard-phone-reconnecting.png` });
    }, 30_000);
  });
}
