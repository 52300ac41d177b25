import { afterAll, beforeAll, expect, test } from 'bun:test';
import { login, startTestServer, type TestServer } from '../support/server';
import { connect } from '../support/ws';

/**
 * Idle sockets (SPEC §3 limits, Bun's idleTimeout + sendPings): a silent watcher is pinged, and
 * one that answers nothing — not even the ping — is closed, while a client that answers pings
 * (every browser and library does) stays connected however long it says nothing. The timeout is
 * shortened from 120 s to 8 s so the test takes seconds, not minutes.
 */

const IDLE_SECONDS = 8;

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ websocketIdleTimeoutSeconds: IDLE_SECONDS });
  token = await login(server);
}, 60_000);
afterAll(() => server.stop());

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;

/** A client over raw TCP that completes the handshake, reads every frame and never sends one: no pong, no message. */
async function openDeafClient(path: string) {
  const frames: { opcode: number; at: number }[] = [];
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let closedAt: number | null = null;
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  await Bun.connect({
    hostname: '127.0.0.1',
    port: server.port,
    socket: {
      open(socket) {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      },
      data(_socket, data) {
        buffer = Buffer.concat([buffer, data]);
        if (!upgraded) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          expect(buffer.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
          upgraded = true;
          buffer = buffer.subarray(end + 4);
        }
        // Server frames are unmasked; ours are small, so lengths up to 16 bits suffice.
        while (buffer.length >= 2) {
          const shortLength = buffer[1]! & 0x7f;
          const header = shortLength === 126 ? 4 : 2;
          if (buffer.length < header) return;
          const length = shortLength === 126 ? buffer.readUInt16BE(2) : shortLength;
          if (buffer.length < header + length) return;
          frames.push({ opcode: buffer[0]! & 0x0f, at: performance.now() });
          buffer = buffer.subarray(header + length);
        }
      },
      close() {
        closedAt ??= performance.now();
      },
      error() {
        closedAt ??= performance.now();
      },
    },
  });
  return { frames, closedAt: () => closedAt };
}

test('a client that answers nothing is pinged, then closed; one that answers pings stays, and still gets seat updates', async () => {
  const startedAt = performance.now();
  const deaf = await openDeafClient(`/ws/events/1?token=${token}`);
  const quiet = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
  await quiet.nextOfType('subscribed');

  // Bun pings a silent socket about half-way through the timeout and closes it at the timeout if
  // nothing came back (its timers tick every 4 s, hence the slack).
  const deadline = startedAt + (3 * IDLE_SECONDS + 4) * 1000;
  while (deaf.closedAt() === null && performance.now() < deadline) await Bun.sleep(250);

  const closedAfterSeconds = (deaf.closedAt()! - startedAt) / 1000;
  const pings = deaf.frames.filter((frame) => frame.opcode === OPCODE_PING);
  expect(deaf.closedAt()).not.toBeNull();
  expect(deaf.frames.filter((frame) => frame.opcode === OPCODE_TEXT).length).toBeGreaterThanOrEqual(2);
  expect(pings.length).toBeGreaterThanOrEqual(1);
  expect(pings[0]!.at).toBeLessThan(deaf.closedAt()!);
  expect(closedAfterSeconds).toBeGreaterThanOrEqual(IDLE_SECONDS - 4);
  expect(closedAfterSeconds).toBeLessThanOrEqual(IDLE_SECONDS + 8);

  // The quiet client has said nothing for well over two timeouts too, but its library answered the pings.
  while (performance.now() < startedAt + 2.5 * IDLE_SECONDS * 1000) await Bun.sleep(250);
  expect(quiet.isClosed()).toBe(false);
  const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: 1, quantity: 1 } });
  expect(booked.status).toBe(201);
  expect((await quiet.nextOfType('booking_created')).availableSeats).toBe(booked.body.availableSeats);
  quiet.close();
  console.log(
    `deaf client: first ping after ${((pings[0]!.at - startedAt) / 1000).toFixed(1)} s, closed after ${closedAfterSeconds.toFixed(1)} s` +
      ` (close frame: ${deaf.frames.some((frame) => frame.opcode === OPCODE_CLOSE)}); quiet client open after ${((performance.now() - startedAt) / 1000).toFixed(1)} s`,
  );
}, 60_000);
