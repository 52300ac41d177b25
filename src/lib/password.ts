/** Passwords are stored as argon2id hashes (SPEC §2); this is the one place that says how. */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id' });
}

export function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  return Bun.password.verify(password, passwordHash, 'argon2id');
}
