import { jwt } from '@elysiajs/jwt';
import { isRowId } from './storable';

/** What a verified token tells us about its bearer. */
export interface TokenUser {
  id: number;
  email: string;
  name: string | null;
}

export interface VerifiedToken {
  user: TokenUser;
  /** Expiry as Unix seconds. */
  expiresAt: number;
}

export interface Tokens {
  sign(user: TokenUser): Promise<string>;
  /** null for anything not a valid, unexpired token of ours. */
  verify(token: string | undefined | null): Promise<VerifiedToken | null>;
}

function signerFor(secret: string | CryptoKey) {
  // The plugin's decorator is the signer/verifier itself; using it outside a request lets
  // WebSocket upgrades and tests share one implementation with the HTTP routes.
  return jwt({ name: 'jwt', secret }).decorator.jwt;
}

/**
 * How many verified tokens are remembered. Each holds a few hundred bytes, so the bound keeps
 * the cache near a few MB however many distinct tokens arrive.
 */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export function createTokens(secret: string, expiresInSeconds: number): Tokens {
  // Given the raw secret, jose imports the HMAC key again on every sign and verify; imported once,
  // 10,000 WebSocket upgrades cost that much less CPU and garbage.
  const signer = crypto.subtle
    .importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    .then(signerFor, () => signerFor(secret));
  const verified = createVerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);
  return {
    async sign(user) {
      const exp = Math.floor(Date.now() / 1000) + expiresInSeconds;
      return (await signer).sign({ sub: String(user.id), email: user.email, name: user.name ?? '', exp });
    },
    async verify(token) {
      if (!token) return null;
      const known = verified.get(token);
      if (known) return known;
      const payload = await (await signer).verify(token);
      if (!payload) return null;
      // Only what sign() writes: a user id in decimal, within the ids a users row can have.
      const id = typeof payload.sub === 'string' && /^[1-9]\d{0,9}$/.test(payload.sub) ? Number(payload.sub) : NaN;
      if (!isRowId(id) || typeof payload.exp !== 'number') return null;
      const email = typeof payload.email === 'string' ? payload.email : '';
      const name = typeof payload.name === 'string' && payload.name !== '' ? payload.name : null;
      const result: VerifiedToken = Object.freeze({ user: Object.freeze({ id, email, name }), expiresAt: payload.exp });
      verified.remember(token, result);
      return result;
    },
  };
}

/**
 * Tokens that passed verification, by their exact text, until they expire. A signature check
 * through jose costs ~0.3 ms of CPU — most of a booking request's own work — and a user sends
 * the same token with every request and every WebSocket upgrade. A signature's verdict cannot
 * change before its `exp`, so a remembered one is the same answer for less; whether the account
 * still exists is asked on every use (tokensOfExistingUsers in services/known-users.ts).
 * Only successes are kept: a forged token never takes a slot.
 */
export function createVerifiedTokenCache(capacity: number) {
  const byToken = new Map<string, VerifiedToken>();
  return {
    get(token: string): VerifiedToken | undefined {
      const known = byToken.get(token);
      if (known && known.expiresAt <= Date.now() / 1000) {
        byToken.delete(token);
        return undefined;
      }
      return known;
    },
    remember(token: string, verdict: VerifiedToken): void {
      if (capacity <= 0) return;
      // A Map iterates in insertion order, so its first key is the oldest entry.
      if (byToken.size >= capacity) byToken.delete(byToken.keys().next().value!);
      byToken.set(token, verdict);
    },
  };
}

/** The token from `Authorization: Bearer …`, if that is what the header holds. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}
