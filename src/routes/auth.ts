import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { authenticate, getUser, registerUser } from '../services/auth';
import { authResult, bodyErrors, errorAnswers, loginBody, registerBody, userResult } from './schemas';

export function authRoutes({ database, tokens }: AppDeps) {
  return new Elysia({ prefix: '/api/auth', tags: ['Auth'] })
    .use(authPlugin(tokens))
    .post(
      '/register',
      async ({ body, status }) => {
        const user = await registerUser(database.db, body);
        return status(201, { token: await tokens.sign(user), user });
      },
      {
        body: registerBody,
        parse: 'json',
        response: { 201: authResult.describe('Account created; signed in'), ...errorAnswers(...bodyErrors, 'email_taken', 'database_unavailable') },
        detail: { summary: 'Create an account and get a token', security: [] },
      },
    )
    .post(
      '/login',
      async ({ body }) => {
        const user = await authenticate(database.db, body.email, body.password);
        return { token: await tokens.sign(user), user };
      },
      {
        body: loginBody,
        parse: 'json',
        response: { 200: authResult.describe('Signed in'), ...errorAnswers(...bodyErrors, 'invalid_credentials', 'database_unavailable') },
        detail: { summary: 'Exchange email and password for a token', security: [] },
      },
    )
    .get('/me', async ({ user }) => ({ user: await getUser(database.db, user.id) }), {
      auth: true,
      response: { 200: userResult.describe('The token’s user'), ...errorAnswers('unauthorized', 'database_unavailable') },
      detail: { summary: 'The signed-in user' },
    })
    .post(
      '/refresh',
      async ({ user }) => {
        // The user as stored now, so the new token carries a changed name or email.
        const current = await getUser(database.db, user.id);
        return { token: await tokens.sign(current), user: current };
      },
      {
        auth: true,
        response: { 200: authResult.describe('A new token with a fresh lifetime; the old one stays valid until its own expiry'), ...errorAnswers('unauthorized', 'database_unavailable') },
        detail: {
          summary: 'Exchange a still-valid token for a new one',
          description: 'For sessions longer than one token: call it before the token expires (a WebSocket says when with `token_expiring`), then hand the new token to open sockets with `refresh_token`. An expired token cannot be refreshed: log in again.',
        },
      },
    );
}
