/**
 * Small deliberate bugs, each of which some test must catch (`bun run mutants`). A mutant
 * replaces one exact piece of text in one file; `tests` are the files that must fail with it.
 * tests/mutants/mutants.test.ts keeps the list applicable: every `from` occurs exactly once.
 */
export interface Mutant {
  id: string;
  /** The promise it breaks, in words. */
  breaks: string;
  file: string;
  from: string;
  to: string;
  tests: string[];
}

export const mutants: Mutant[] = [
  // The six a reviewer's deliberate bugs showed no test caught.
  {
    id: 'idle-timeout-12s',
    breaks: 'silent WebSockets are closed after 120 s (SPEC §3)',
    file: 'src/protocol.ts',
    from: 'idleTimeoutSeconds: 120,',
    to: 'idleTimeoutSeconds: 12,',
    tests: ['tests/routes/websocket-limits.test.ts'],
  },
  {
    id: 'client-ping-300s',
    breaks: "the client's keep-alive ping every 30 s (SPEC §5)",
    file: 'src/client/seatwatch-client.ts',
    from: 'const PROTOCOL = { clientPingIntervalMs: 30_000 }',
    to: 'const PROTOCOL = { clientPingIntervalMs: 300_000 }',
    tests: ['tests/client/seatwatch-client.test.ts'],
  },
  {
    id: 'flood-window-1s',
    breaks: '200 dropped within 10 s closes 4429 (SPEC §3)',
    file: 'src/protocol.ts',
    from: 'rateDropWindowMs: 10_000,',
    to: 'rateDropWindowMs: 1_000,',
    tests: ['tests/services/websocket.test.ts'],
  },
  {
    id: 'no-sigint-handler',
    breaks: 'SIGINT closes sockets, drains and exits 0 (SPEC §3)',
    file: 'src/index.ts',
    from: "process.on('SIGINT', () => void shutdown('SIGINT'));",
    to: '',
    tests: ['tests/index.test.ts'],
  },
  {
    id: 'no-default-secret-warning',
    breaks: 'the dev-only JWT_SECRET default comes with a warning (SPEC §1)',
    file: 'src/index.ts',
    from: "if (config.jwtSecretIsDefault) logger.warn(",
    to: 'if (false) logger.warn(',
    tests: ['tests/index.test.ts'],
  },
  {
    id: 'coalesce-capped-5ms',
    breaks: 'at most one message per event per FANOUT_COALESCE_MS (SPEC §3)',
    file: 'src/server.ts',
    from: 'coalesceMs: config.fanoutCoalesceMs,',
    to: 'coalesceMs: Math.min(config.fanoutCoalesceMs, 5),',
    tests: ['tests/routes/websocket-load.test.ts'],
  },
  // Five that the suite already caught; kept so it goes on catching them.
  {
    id: 'seat-guard-off',
    breaks: 'a booking takes seats only when enough are left (SPEC §2)',
    file: 'src/services/booking.ts',
    from: 'sql`${events.availableSeats} >= ${quantity}::integer`',
    to: 'sql`${events.availableSeats} >= 0`',
    tests: ['tests/services/booking.test.ts'],
  },
  {
    id: 'stale-version-sent',
    breaks: 'per connection and event, version strictly increases (SPEC §3)',
    file: 'src/services/fan-out-slices.ts',
    from: 'if (latest && change.version <= latest.version) return;',
    to: '',
    tests: ['tests/services/websocket.test.ts', 'tests/routes/websocket-load.test.ts'],
  },
  {
    id: 'subscriptions-kept-on-close',
    breaks: 'on disconnect the connection leaves every subscription at once (SPEC §3)',
    file: 'src/services/websocket.ts',
    from: 'for (const eventId of [...client.subscriptions]) detachSubscription(client, eventId);\n    clients.delete',
    to: 'clients.delete',
    tests: ['tests/routes/websocket.test.ts', 'tests/routes/websocket-load.test.ts'],
  },
  {
    id: 'second-cancel-200',
    breaks: 'a second cancel is 409 already_cancelled and returns no seats (SPEC §2)',
    file: 'src/services/booking.ts',
    from: "eq(bookings.userId, userId), eq(bookings.status, 'confirmed')",
    to: 'eq(bookings.userId, userId)',
    tests: ['tests/routes/bookings.test.ts'],
  },
  {
    id: 'no-close-at-token-expiry',
    breaks: 'at the token\'s exp the server sends token_expired and closes 4401 (SPEC §3)',
    file: 'src/services/websocket.ts',
    from: "closeClient(client, WS_CLOSE.unauthorized, 'token expired');",
    to: '',
    tests: ['tests/routes/websocket.test.ts'],
  },
];
