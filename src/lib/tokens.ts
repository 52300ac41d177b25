import { jwt } from '@elysiajs/jwt';

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

export function createTokens(secret: string, expiresInSeconds: number): Tokens {
  // Given the raw secret, jose imports the HMAC key again on every sign and verify; imported once,
  // 10,000 WebSocket upgrades cost that much less CPU and garbage.
  const signer = crypto.subtle
    .importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    .then(signerFor, () => signerFor(secret));
  return {
    async sign(user) {
      const exp = Math.floor(Date.now() / 1000) + expiresInSeconds;
      return (await signer).sign({ sub: String(user.id), email: user.email, name: user.name ?? '', exp });
    },
    async verify(token) {
      if (!token) return null;
      const payload = await (await signer).verify(token);
      if (!payload) return null;
      const id = Number(payload.sub);
      if (!Number.isSafeInteger(id) || id <= 0 || typeof payload.exp !== 'number') return null;
      const email = typeof payload.email === 'string' ? payload.email : '';
      const name = typeof payload.name === 'string' && payload.name !== '' ? payload.name : null;
      return { user: { id, email, name }, expiresAt: payload.exp };
    },
  };
}

/** The token from `Authorization: Bearer …`, if that is what the header holds. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}
