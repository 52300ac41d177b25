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
    });
}
