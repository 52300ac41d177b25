import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { login, startTestServer, type TestServer } from '../support/server';
import { connect } from '../support/ws';
import { consoleExamples, wscatExamples, type TypedExample } from './markdown';

/**
 * docs/websocket-testing-guide.md's typed examples, sent as written over a real WebSocket to a
 * real server on a fresh database: what comes back must be what the guide shows, so the guide
 * fails the build when the server's answers drift from it.
 */

const guide = readFileSync(join(import.meta.dir, '../../docs/websocket-testing-guide.md'), 'utf8');

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ seed: true });
  token = await login(server);
}, 60_000);
afterAll(() => server.stop());

/** Sends each example on one connection to event 1, as the guide does, and checks every answer. */
async function expectAnswersAsShown(examples: TypedExample[]): Promise<void> {
  const socket = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
  try {
    await socket.nextOfType('connection_established');
    await socket.nextOfType('subscribed');
    for (const example of examples) {
      socket.send(example.send);
      for (const answer of example.answers) {
        const actual = await socket.next();
        expect({ typed: example.shown, shown: answer, actual, matches: example.matches(answer, actual) }).toEqual({
          typed: example.shown,
          shown: answer,
          actual,
          matches: true,
        });
      }
    }
    // Nothing more came back than the guide shows: the next answer is the pong to this ping.
    socket.send({ type: 'ping' });
    expect(await socket.next()).toEqual({ type: 'pong' });
    expect(socket.isClosed()).toBe(false);
  } finally {
    socket.close();
  }
}

describe('docs/websocket-testing-guide.md', () => {
  test('wscat: every message typed at the prompt gets the answers shown under it', async () => {
    const examples = wscatExamples(guide);
    expect(examples.map((example) => example.send)).toContain('hello');
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const example of examples) expect({ typed: example.shown, answers: example.answers.length }).not.toEqual({ typed: example.shown, answers: 0 });
    await expectAnswersAsShown(examples);
  }, 30_000);

  test('browser console: every ws.send line gets the object its comment shows', async () => {
    const examples = consoleExamples(guide);
    expect(examples.map((example) => example.send)).toEqual(['{"type":"ping"}', '{"type":"subscribe_event","eventId":2}', 'hello']);
    await expectAnswersAsShown(examples);
  }, 30_000);
});
