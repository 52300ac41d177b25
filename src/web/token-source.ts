/**
 * Where the page's live connection gets its tokens (the client library's token source): each call
 * exchanges the signed-in token for a new one (`POST /api/auth/refresh`) and keeps it, so the
 * socket, and the REST calls after it, outlive any one token with no reload (SPEC §6).
 */
import { ApiError, type Api } from './api';
import { session } from './session';

export function createTokenSource(api: Pick<Api, 'refresh'>, onSessionOver: () => void) {
  return async (): Promise<string | null> => {
    if (!session.token()) return null;
    try {
      const { token } = await api.refresh();
      session.save(token);
      return token;
    } catch (error) {
      // Expired while the page was away (a laptop asleep past the token's exp), or the account is
      // gone: only signing in again helps. Anything else (offline) the client retries.
      if (error instanceof ApiError && error.status === 401) {
        onSessionOver();
        return null;
      }
      throw error;
    }
  };
}
