/** The signed-in token survives reloads (localStorage); signing out or a refused token forgets it. */
const TOKEN_KEY = 'seatwatch.token';

export const session = {
  token(): string | null {
    try {
      return localStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  save(token: string): void {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    localStorage.removeItem(TOKEN_KEY);
  },
};
