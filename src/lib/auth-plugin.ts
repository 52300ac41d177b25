import { Elysia } from 'elysia';
import { errors } from './errors';
import { bearerToken, type Tokens, type TokenUser } from './tokens';

/**
 * The one auth plugin. `{ auth: true }` on a route yields `user` or answers 401;
 * `{ optionalAuth: true }` yields `viewer` (null without a token, 401 for a bad one).
 */
export function authPlugin(tokens: Tokens) {
  return new Elysia({ name: 'seatwatch/auth' }).macro({
    auth: {
      async resolve({ headers }): Promise<{ user: TokenUser }> {
        const verified = await tokens.verify(bearerToken(headers.authorization));
        if (!verified) throw errors.unauthorized();
        return { user: verified.user };
      },
    },
    optionalAuth: {
      async resolve({ headers }): Promise<{ viewer: TokenUser | null }> {
        if (!headers.authorization) return { viewer: null };
        const verified = await tokens.verify(bearerToken(headers.authorization));
        if (!verified) throw errors.unauthorized();
        return { viewer: verified.user };
      },
    },
  });
}
