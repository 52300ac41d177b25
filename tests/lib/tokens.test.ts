import { expect, test } from 'bun:test';
import { jwt } from '@elysiajs/jwt';
import { createTokens, createVerifiedTokenCache, type VerifiedToken } from '../../src/lib/tokens';

const SECRET = 's'.repeat(48);
const user = { id: 7, email: 'seven@example.com', name: 'Seven' };

test('a token verifies to its user, again and again', async () => {
  const tokens = createTokens(SECRET, 60);
  const token = await tokens.sign(user);
  const first = await tokens.verify(token);
  expect(first?.user).toEqual(user);
  expect(await tokens.verify(token)).toEqual(first);
});

test('a remembered token is refused once it expires', async () => {
  // exp is whole seconds: 2 s guarantees at least one second in which the token is valid.
  const tokens = createTokens(SECRET, 2);
  const token = await tokens.sign(user);
  const verdict = await tokens.verify(token);
  expect(verdict?.user.id).toBe(7);
  await Bun.sleep(Math.max(0, verdict!.expiresAt * 1000 - Date.now()) + 50);
  expect(await tokens.verify(token)).toBeNull();
});

test('tampered, foreign and malformed tokens are refused every time', async () => {
  const tokens = createTokens(SECRET, 60);
  const good = await tokens.sign(user);
  const [header, , signature] = good.split('.');
  const otherUser = Buffer.from(JSON.stringify({ sub: '8', email: 'x@example.com', name: '', exp: 9_999_999_999 })).toString('base64url');
  const foreign = await createTokens('f'.repeat(48), 60).sign(user);
  // The good one first, so a cache keyed loosely would wrongly answer for the others.
  expect((await tokens.verify(good))?.user).toEqual(user);
  for (const bad of [`${header}.${otherUser}.${signature}`, foreign, `${good}x`, 'not.a.token', '']) {
    expect(await tokens.verify(bad)).toBeNull();
    expect(await tokens.verify(bad)).toBeNull();
  }
});

/** A verified token of user `id`, expiring `expiresInSeconds` from now. */
const verdict = (id: number, expiresInSeconds = 60): VerifiedToken => ({ user: { id, email: `${id}@example.com`, name: null }, expiresAt: Date.now() / 1000 + expiresInSeconds });

test('the cache holds at most its capacity, dropping the oldest first', () => {
  const cache = createVerifiedTokenCache(2);
  cache.remember('a', verdict(1));
  cache.remember('b', verdict(2));
  cache.remember('c', verdict(3));
  expect(cache.get('a')).toBeUndefined();
  expect(cache.get('b')?.user.id).toBe(2);
  expect(cache.get('c')?.user.id).toBe(3);
});

test('an expired entry is never answered, and capacity 0 keeps nothing', () => {
  const cache = createVerifiedTokenCache(10);
  cache.remember('old', verdict(1, -1));
  expect(cache.get('old')).toBeUndefined();
  const none = createVerifiedTokenCache(0);
  none.remember('x', verdict(1));
  expect(none.get('x')).toBeUndefined();
});

test('a correctly signed token is refused unless its sub is a user id PostgreSQL can hold (1..2147483647, plain decimal)', async () => {
  const tokens = createTokens(SECRET, 60);
  // Signs any claims with the same secret, as a forger holding the key (or an older version) could.
  const signer = jwt({ name: 'jwt', secret: SECRET }).decorator.jwt;
  const exp = Math.floor(Date.now() / 1000) + 60;
  const signedWith = (sub: unknown) => signer.sign({ sub: sub as string, email: 'x@example.com', name: '', exp });
  expect((await tokens.verify(await signedWith('2147483647')))?.user.id).toBe(2_147_483_647);
  for (const sub of ['2147483648', '9007199254740993', '0', '-1', '1e3', '007', ' 7', '7.0', '0x10', '']) {
    expect(await tokens.verify(await signedWith(sub))).toBeNull();
  }
});
