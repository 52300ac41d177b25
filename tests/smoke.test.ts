import { afterAll, beforeAll, expect, test } from 'bun:test';
import { login, startTestServer, type TestServer } from './support/server';
import { connect } from './support/ws';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

test('seed quick test: watch event 1, book, cancel', async () => {
  const token = await login(server);
  const watcher = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
  const hello = await watcher.nextOfType('connection_established');
  expect(hello.message).toBe("You're watching Event #1".replace(/^/, 'Welcome! '));
  const snapshot = await watcher.nextOfType('subscribed');
  expect(snapshot.availableSeats).toBe(50);
  const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: 1 } });
  expect(booked.status).toBe(201);
  expect(booked.body.availableSeats).toBe(49);
  const created = await watcher.nextOfType('booking_created');
  expect(created).toEqual({ type: 'booking_created', eventId: 1, availableSeats: 49, capacity: 50, version: 2 });
  const cancelled = await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token });
  expect(cancelled.body.availableSeats).toBe(50);
  expect((await watcher.nextOfType('booking_cancelled')).availableSeats).toBe(50);
  watcher.close();
});
