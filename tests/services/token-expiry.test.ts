import { expect, test } from 'bun:test';
import { watchTokenExpiry } from '../../src/services/token-expiry';

/**
 * What a socket test cannot show: tokens whose expiry is beyond one timer's reach, and an expiry
 * moved later while the timer runs (a newer token). The close at `exp` itself is shown on a real
 * server (tests/routes/websocket.test.ts, lifecycle).
 */

const nowSeconds = () => Date.now() / 1000;

test('an expiry 30 days away (beyond setTimeout’s ~24.8 days) does not fire at once', async () => {
  let expired = false;
  const expiry = watchTokenExpiry(nowSeconds() + 30 * 86_400, () => (expired = true));
  await Bun.sleep(50);
  expect(expired).toBe(false);
  expiry.stop();
});

test('an expiry moved later is waited for; it fires once, at the new time', async () => {
  let calls = 0;
  const expiry = watchTokenExpiry(nowSeconds() + 0.05, () => (calls += 1));
  expiry.expiresAt = nowSeconds() + 0.25;
  await Bun.sleep(150);
  expect(calls).toBe(0);
  await Bun.sleep(250);
  expect(calls).toBe(1);
  expiry.stop();
});

test('stopped, it never fires', async () => {
  let expired = false;
  watchTokenExpiry(nowSeconds() + 0.02, () => (expired = true)).stop();
  await Bun.sleep(60);
  expect(expired).toBe(false);
});
