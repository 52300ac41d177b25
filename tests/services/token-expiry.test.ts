import { expect, test } from 'bun:test';
import { watchTokenExpiry, type TokenExpiryHandlers } from '../../src/services/token-expiry';

/**
 * What a socket test cannot show: tokens whose expiry is beyond one timer's reach, the 60 s
 * warning of a token that lives longer than a test, and an expiry moved while the timer runs (a
 * newer token). The warning and the close on a real server are in tests/routes/websocket-refresh.test.ts.
 */

const nowSeconds = () => Date.now() / 1000;

function recorder() {
  const calls: string[] = [];
  const handlers: TokenExpiryHandlers = {
    onExpiring: (expiresAt) => calls.push(`expiring ${expiresAt}`),
    onExpired: () => calls.push('expired'),
  };
  return { calls, handlers };
}

test('an expiry 30 days away (beyond setTimeout’s ~24.8 days) does not fire at once, not even its warning', async () => {
  const { calls, handlers } = recorder();
  const expiry = watchTokenExpiry(nowSeconds() + 30 * 86_400, handlers);
  await Bun.sleep(50);
  expect(calls).toEqual([]);
  expiry.stop();
});

test('the warning goes 60 s before exp, not sooner; the expiry not with it', async () => {
  const { calls, handlers } = recorder();
  const expiresAt = nowSeconds() + 60.5;
  const expiry = watchTokenExpiry(expiresAt, handlers);
  await Bun.sleep(100);
  expect(calls).toEqual([]);
  await Bun.sleep(800);
  expect(calls).toEqual([`expiring ${expiresAt}`]);
  expiry.stop();
});

test('less than the warning left: warned at once, then expired at exp, each once', async () => {
  const { calls, handlers } = recorder();
  const expiresAt = nowSeconds() + 0.3;
  const expiry = watchTokenExpiry(expiresAt, handlers);
  await Bun.sleep(50);
  expect(calls).toEqual([`expiring ${expiresAt}`]);
  await Bun.sleep(450);
  expect(calls).toEqual([`expiring ${expiresAt}`, 'expired']);
  expiry.stop();
});

test('renewed later: waited for, warned afresh for the new token, expired once at the new time', async () => {
  const { calls, handlers } = recorder();
  const first = nowSeconds() + 0.5;
  const expiry = watchTokenExpiry(first, handlers);
  await Bun.sleep(30);
  const second = nowSeconds() + 1;
  expiry.renew(second);
  expect(expiry.expiresAt).toBe(second);
  await Bun.sleep(200);
  expect(calls).toEqual([`expiring ${first}`, `expiring ${second}`]);
  await Bun.sleep(1000);
  expect(calls).toEqual([`expiring ${first}`, `expiring ${second}`, 'expired']);
  expiry.stop();
});

test('renewed with the same expiry (the same token again): no second warning', async () => {
  const { calls, handlers } = recorder();
  const expiresAt = nowSeconds() + 0.3;
  const expiry = watchTokenExpiry(expiresAt, handlers);
  await Bun.sleep(30);
  expiry.renew(expiresAt);
  await Bun.sleep(100);
  expect(calls).toEqual([`expiring ${expiresAt}`]);
  expiry.stop();
});

test('renewed earlier: the connection follows the newest token, down as well as up', async () => {
  const { calls, handlers } = recorder();
  const expiry = watchTokenExpiry(nowSeconds() + 3600, handlers);
  const sooner = nowSeconds() + 0.15;
  expiry.renew(sooner);
  await Bun.sleep(400);
  expect(calls).toEqual([`expiring ${sooner}`, 'expired']);
  expiry.stop();
});

test('stopped, it never fires', async () => {
  const { calls, handlers } = recorder();
  watchTokenExpiry(nowSeconds() + 0.02, handlers).stop();
  await Bun.sleep(60);
  expect(calls).toEqual([]);
});
