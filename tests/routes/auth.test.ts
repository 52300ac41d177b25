import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { users } from '../../src/db/schema';
import { createTokens } from '../../src/lib/tokens';
import { expectError as expectErrorCode, startTestServer, testConfig, type TestServer } from '../support/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(() => server.stop());

const userCount = async () => (await server.database.db.select({ count: sql<number>`count(*)::int` }).from(users))[0]!.count;

/** Auth errors are checked for a message as well. */
function expectError(response: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expectErrorCode(response, status, code);
  expect(typeof response.body.error.message).toBe('string');
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}

describe('POST /api/auth/register', () => {
  test('201 with a token and the public user; the token signs the user in', async () => {
    const response = await server.request('POST', '/api/auth/register', { body: { email: 'new.person@example.com', password: 'password123', name: 'New Person' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(Object.keys(response.body).sort()).toEqual(['token', 'user']);
    expect(Object.keys(response.body.user).sort()).toEqual(['email', 'id', 'name']);
    expect(Number.isInteger(response.body.user.id)).toBe(true);
    expect(response.body.user).toMatchObject({ email: 'new.person@example.com', name: 'New Person' });
    const payload = payloadOf(response.body.token);
    expect(payload.sub).toBe(String(response.body.user.id));
    // Default lifetime is 24h.
    expect(Number(payload.exp) - Number(payload.iat)).toBe(24 * 3600);

    const me = await server.request('GET', '/api/auth/me', { token: response.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: response.body.user });
  });

  test('name is optional; passwords of exactly 8 and 128 characters are fine', async () => {
    const short = await server.request('POST', '/api/auth/register', { body: { email: 'eight@example.com', password: '12345678' } });
    expect(short.status).toBe(201);
    expect(short.body.user.name).toBeNull();
    const long = await server.request('POST', '/api/auth/register', { body: { email: 'long@example.com', password: 'p'.repeat(128) } });
    expect(long.status).toBe(201);
    const login = await server.request('POST', '/api/auth/login', { body: { email: 'long@example.com', password: 'p'.repeat(128) } });
    expect(login.status).toBe(200);
  });

  const invalid: [string, unknown, string][] = [
    ['a malformed email', { email: 'not-an-email', password: 'password123' }, 'email'],
    ['an email without a domain', { email: 'someone@', password: 'password123' }, 'email'],
    ['an empty email', { email: '', password: 'password123' }, 'email'],
    ['a missing email', { password: 'password123' }, 'email'],
    ['a numeric email', { email: 42, password: 'password123' }, 'email'],
    ['a 7-character password', { email: 'seven@example.com', password: '1234567' }, 'password'],
    ['a 129-character password', { email: 'toolong@example.com', password: 'p'.repeat(129) }, 'password'],
    ['a missing password', { email: 'nopass@example.com' }, 'password'],
    ['a non-string password', { email: 'numpass@example.com', password: 12345678 }, 'password'],
    // PostgreSQL cannot store NUL in text, and a lone surrogate would be stored as U+FFFD.
    ['a NUL byte in the name', { email: 'nul-name@example.com', password: 'password123', name: 'Nul\u0000Name' }, 'name'],
    ['a lone surrogate in the name', { email: 'surrogate@example.com', password: 'password123', name: 'half \ud800 pair' }, 'name'],
    ['a NUL byte in the email', { email: 'nul\u0000@example.com', password: 'password123' }, 'email'],
  ];
  for (const [label, body, field] of invalid) {
    test(`${label} → 400 validation_error naming ${field}; no account made`, async () => {
      const before = await userCount();
      const response = await server.request('POST', '/api/auth/register', { body });
      expectError(response, 400, 'validation_error');
      expect(Array.isArray(response.body.error.details)).toBe(true);
      expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toContain(field);
      for (const problem of response.body.error.details) expect(typeof problem.message).toBe('string');
      expect(await userCount()).toBe(before);
    });
  }

  test('the same email in another case → 409 email_taken; the first account is untouched', async () => {
    const first = await server.request('POST', '/api/auth/register', { body: { email: 'Case.Person@Example.com', password: 'original-pass' } });
    expect(first.status).toBe(201);
    const before = await userCount();
    for (const email of ['case.person@example.com', 'CASE.PERSON@EXAMPLE.COM', 'Case.Person@Example.com']) {
      const duplicate = await server.request('POST', '/api/auth/register', { body: { email, password: 'another-pass' } });
      expectError(duplicate, 409, 'email_taken');
    }
    expect(await userCount()).toBe(before);
    expect((await server.request('POST', '/api/auth/login', { body: { email: 'case.person@example.com', password: 'original-pass' } })).status).toBe(200);
    expectError(await server.request('POST', '/api/auth/login', { body: { email: 'case.person@example.com', password: 'another-pass' } }), 401, 'invalid_credentials');
  });

  test('two concurrent registrations of one email: one 201, one 409', async () => {
    const body = { email: 'race@example.com', password: 'password123' };
    const results = await Promise.all([
      server.request('POST', '/api/auth/register', { body }),
      server.request('POST', '/api/auth/register', { body: { ...body, email: 'RACE@example.com' } }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([201, 409]);
    expect(results.find((result) => result.status === 409)!.body.error.code).toBe('email_taken');
  });
});

describe('POST /api/auth/login', () => {
  test('the demo user signs in, in any letter case', async () => {
    for (const email of ['test@example.com', 'TEST@Example.COM']) {
      const response = await server.request('POST', '/api/auth/login', { body: { email, password: 'password' } });
      expect(response.status).toBe(200);
      expect(response.body.user).toEqual({ id: 1, email: 'test@example.com', name: 'Test User' });
      const me = await server.request('GET', '/api/auth/me', { token: response.body.token });
      expect(me.body.user).toEqual(response.body.user);
    }
  });

  test('wrong password and unknown email answer the very same 401 body', async () => {
    const wrongPassword = await server.request('POST', '/api/auth/login', { body: { email: 'test@example.com', password: 'not-the-password' } });
    const unknownEmail = await server.request('POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: 'password' } });
    expectError(wrongPassword, 401, 'invalid_credentials');
    expectError(unknownEmail, 401, 'invalid_credentials');
    expect(wrongPassword.body).toEqual(unknownEmail.body);
    expect(Object.keys(wrongPassword.body.error).sort()).toEqual(['code', 'message']);
  });

  test('missing fields → 400 validation_error', async () => {
    expectError(await server.request('POST', '/api/auth/login', { body: { email: 'test@example.com' } }), 400, 'validation_error');
    expectError(await server.request('POST', '/api/auth/login', { body: { password: 'password' } }), 400, 'validation_error');
    expectError(await server.request('POST', '/api/auth/login', { body: {} }), 400, 'validation_error');
  });

  test('a NUL byte in the email → 400 validation_error naming email, not 500', async () => {
    const response = await server.request('POST', '/api/auth/login', { body: { email: 'test@example.com\u0000', password: 'password' } });
    expectError(response, 400, 'validation_error');
    expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toEqual(['email']);
  });
});

describe('GET /api/auth/me', () => {
  const secret = testConfig().jwtSecret;
  const demoUser = { id: 1, email: 'test@example.com', name: 'Test User' };

  test('200 {user} with a valid token', async () => {
    const token = await createTokens(secret, 60).sign(demoUser);
    const response = await server.request('GET', '/api/auth/me', { token });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ user: demoUser });
  });

  const badAuthorization: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['an empty bearer', async () => 'Bearer '],
    ['a garbage token', async () => 'Bearer not.a.jwt'],
    ['a token signed with another secret', async () => `Bearer ${await createTokens('x'.repeat(48), 60).sign(demoUser)}`],
    ['an expired token', async () => `Bearer ${await createTokens(secret, -60).sign(demoUser)}`],
    ['a token for a user that does not exist', async () => `Bearer ${await createTokens(secret, 60).sign({ id: 999_999, email: 'ghost@example.com', name: null })}`],
    // PostgreSQL's integer ids end at 2^31 - 1: a larger sub must not reach a query.
    ['a token whose sub is past the id range', async () => `Bearer ${await createTokens(secret, 60).sign({ id: 2_147_483_648, email: 'big@example.com', name: null })}`],
    ['a non-Bearer scheme', async () => `Basic ${btoa('test@example.com:password')}`],
  ];
  for (const [label, authorization] of badAuthorization) {
    test(`${label} → 401 unauthorized`, async () => {
      const value = await authorization();
      const response = await server.request('GET', '/api/auth/me', { headers: value === undefined ? {} : { authorization: value } });
      expectError(response, 401, 'unauthorized');
    });
  }

  test('a token expires after its lifetime', async () => {
    // A token's exp is whole seconds, so a 1 s token may have only milliseconds left when
    // used; 2 s leaves it at least one second to be accepted first.
    const token = await createTokens(secret, 2).sign(demoUser);
    expect((await server.request('GET', '/api/auth/me', { token })).status).toBe(200);
    const { exp } = payloadOf(token) as { exp: number };
    // Wait out the token's own expiry second, then it must be refused.
    await Bun.sleep(Math.max(0, exp * 1000 - Date.now()) + 1100);
    expectError(await server.request('GET', '/api/auth/me', { token }), 401, 'unauthorized');
  });
});

describe('POST /api/auth/refresh', () => {
  const secret = testConfig().jwtSecret;

  async function registered(name: string) {
    const email = `refresh-${name}-${Date.now()}@example.com`;
    const response = await server.request('POST', '/api/auth/register', { body: { email, password: 'password123', name } });
    expect(response.status).toBe(201);
    return response.body as { token: string; user: { id: number; email: string; name: string | null } };
  }

  test('a valid token → 200 {token, user}: a new token expiring later, which works on /api/auth/me', async () => {
    const { token, user } = await registered('fresh');
    // exp is whole seconds: a token signed in the same second would be the same token.
    await Bun.sleep(1100);
    const response = await server.request('POST', '/api/auth/refresh', { token });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(response.body).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), user });
    const fresh = response.body.token as string;
    expect(fresh).not.toBe(token);
    expect(payloadOf(fresh).exp as number).toBeGreaterThan(payloadOf(token).exp as number);
    expect(payloadOf(fresh).sub).toBe(String(user.id));
    expect(await server.request('GET', '/api/auth/me', { token: fresh })).toMatchObject({ status: 200, body: { user } });
    // The old token is not revoked: it simply runs out at its own exp.
    expect((await server.request('GET', '/api/auth/me', { token })).status).toBe(200);
  });

  test('the new token carries the account as stored now', async () => {
    const { token, user } = await registered('before');
    await server.database.db.execute(sql`update users set name = 'After' where id = ${user.id}`);
    const response = await server.request('POST', '/api/auth/refresh', { token });
    expect(response.body.user).toEqual({ ...user, name: 'After' });
    expect(payloadOf(response.body.token).name).toBe('After');
  });

  const demoUser = { id: 1, email: 'test@example.com', name: 'Test User' };
  const refused: [string, () => Promise<Record<string, string>>][] = [
    ['no token', async () => ({})],
    ['a garbage token', async () => ({ authorization: 'Bearer not.a.jwt' })],
    ['a forged token (another secret)', async () => ({ authorization: `Bearer ${await createTokens('y'.repeat(48), 60).sign(demoUser)}` })],
    ['an expired token', async () => ({ authorization: `Bearer ${await createTokens(secret, -1).sign(demoUser)}` })],
    ['the token of a user that no longer exists', async () => ({ authorization: `Bearer ${await createTokens(secret, 60).sign({ id: 999_999, email: 'gone@example.com', name: null })}` })],
  ];
  for (const [label, headers] of refused) {
    test(`${label} → 401 unauthorized in the error shape, and no token`, async () => {
      const response = await server.request('POST', '/api/auth/refresh', { headers: await headers() });
      expectError(response, 401, 'unauthorized');
      expect(Object.keys(response.body)).toEqual(['error']);
    });
  }

  test('a deleted account: its still-valid token cannot be refreshed', async () => {
    const { token, user } = await registered('deleted');
    expect((await server.request('POST', '/api/auth/refresh', { token })).status).toBe(200);
    await server.database.db.execute(sql`delete from users where id = ${user.id}`);
    // The server hears of the deletion through the database's notification (known-users.ts).
    const deadline = Date.now() + 5000;
    let response = await server.request('POST', '/api/auth/refresh', { token });
    while (response.status === 200 && Date.now() < deadline) {
      await Bun.sleep(20);
      response = await server.request('POST', '/api/auth/refresh', { token });
    }
    expectError(response, 401, 'unauthorized');
  });
});
