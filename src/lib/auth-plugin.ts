import { Elysia } from 'elysia';
import { errors } from './errors';
import { bearerToken, type Tokens, type TokenUser, type VerifiedToken } from './tokens';

/**
 * The one auth plugin. `{ auth: true }` on a route yields `user` or answers 401;
 * `{ optionalAuth: true }` yields `viewer` (null without a token, 401 for a bad one).
 *
 * The token is checked in `transform`, before body/query validation, so a caller without a
 * valid token gets 401 rather than a 400 describing the route's input rules; `resolve` then
 * reuses that verdict to hand the user to the handler. Each also states the route's security in
 * its OpenAPI operation, so the document says what this plugin enforces.
 */
export function authPlugin(tokens: Tokens) {
  const verdicts = new WeakMap<Request, Promise<VerifiedToken | null>>();
  const verify = (request: Request) => {
    let verdict = verdicts.get(request);
    if (!verdict) {
      verdict = tokens.verify(bearerToken(request.headers.get('authorization')));
      verdicts.set(request, verdict);
    }
    return verdict;
  };

  return new Elysia({ name: 'seatwatch/auth' }).macro({
    auth: {
      detail: { security: [{ bearerAuth: [] }] },
      async transform({ request }) {
        if (!(await verify(request))) throw errors.unauthorized();
      },
      async resolve({ request }): Promise<{ user: TokenUser }> {
        const verified = await verify(request);
        if (!verified) throw errors.unauthorized();
        return { user: verified.user };
      },
    },
    optionalAuth: {
      // An empty requirement: no token is fine too.
      detail: { security: [{}, { bearerAuth: [] }] },
      async transform({ request }) {
        if (request.headers.get('authorization') && !(await verify(request))) throw errors.unauthorized();
      },
      async resolve({ request }): Promise<{ viewer: TokenUser | null }> {
        if (!request.headers.get('authorization')) return { viewer: null };
        const verified = await verify(request);
        if (!verified) throw errors.unauthorized();
        return { viewer: verified.user };
      },
    },
  });
}
