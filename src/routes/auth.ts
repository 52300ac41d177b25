import { Elysia } from 'elysia';
import type { AppDeps } from '../app-deps';
import { authPlugin } from '../lib/auth-plugin';
import { authenticate, getUser, registerUser } from '../services/auth';
import { loginBody, registerBody } from './schemas';

export function authRoutes({ database, tokens }: AppDeps) {
  return new Elysia({ prefix: '/api/auth', tags: ['Auth'] })
    .use(authPlugin(tokens))
    .post(
      '/register',
      async ({ body, status }) => {
        const user = await registerUser(database.db, body);
        return status(201, { token: await tokens.sign(user), user });
      },
      { body: registerBody, detail: { summary: 'Create an account and get a token' } },
    )
    .post(
      '/login',
      async ({ body }) => {
        const user = await authenticate(database.db, body.email, body.password);
        return { token: await tokens.sign(user), user };
      },
      { body: loginBody, detail: { summary: 'Exchange email and password for a token' } },
    )
    .get('/me', async ({ user }) => ({ user: await getUser(database.db, user.id) }), {
      auth: true,
      detail: { summary: 'The signed-in user', security: [{ bearerAuth: [] }] },
    });
}
