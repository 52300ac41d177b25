/**
 * Waits that wake on events instead of sleeping: `until(find)` resolves with the first value
 * `find` returns (checked now and on every `wake()`), rejects if `find` throws, and times out.
 */
export function createWaiter() {
  const checks = new Set<() => void>();
  return {
    wake(): void {
      for (const check of [...checks]) check();
    },
    until<T>(find: () => T | undefined, timeoutMs: number, describeTimeout: () => string): Promise<T> {
      return new Promise((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          checks.delete(check);
        };
        const check = () => {
          let found: T | undefined;
          try {
            found = find();
          } catch (error) {
            finish();
            reject(error);
            return;
          }
          if (found === undefined) return;
          finish();
          resolve(found);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(describeTimeout()));
        }, timeoutMs);
        checks.add(check);
        check();
      });
    },
  };
}
