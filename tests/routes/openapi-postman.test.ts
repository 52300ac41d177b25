import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import newman, { type NewmanRunSummary } from 'newman';
import { convertV2, type CollectionResult } from 'openapi-to-postmanv2';
import { lineMatches, markedBlocks } from '../docs/markdown';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The Postman path, as a user takes it: the live /openapi/json converted by openapi-to-postmanv2
 * (the converter Postman's own import uses), then README's 5-minute test run through that
 * collection by newman against a real server. Requests keep the converted URL, method, headers
 * and auth; the test fills in only what a user types: each README curl's body, path id and
 * which user's token it sends.
 */

interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: {
    method: string;
    url: { path: string[]; host: string[]; variable?: { key: string; value: string }[] };
    auth?: { type: string; bearer?: { key: string; value: string }[] };
    body?: unknown;
  };
  event?: { listen: 'prerequest' | 'test'; script: { exec: string[] } }[];
}

interface PostmanCollection {
  info: unknown;
  item: PostmanItem[];
  variable?: { key: string; value: string }[];
}

/** One curl of README's 5-minute test. */
interface ReadmeRequest {
  block: string;
  method: string;
  path: string;
  body?: string;
  /** `$TOKEN` / `$ALICE_TOKEN` in its Authorization header */
  tokenVariable?: string;
  /** `export NAME=$(curl …)`: the response's token is kept as NAME */
  exportsVariable?: string;
}

const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8');
const blocks = markedBlocks(readme);

/** README's curl commands in order, read from its marked command blocks. */
function readmeRequests(): ReadmeRequest[] {
  const requests: ReadmeRequest[] = [];
  for (const block of blocks.values()) {
    if (block.kind !== 'command') continue;
    for (const line of block.text.replace(/\\\n\s*/g, ' ').split('\n')) {
      if (!line.includes('curl ')) continue;
      const path = /http:\/\/localhost:3000(\/[^\s'"]*)/.exec(line)?.[1];
      if (!path) throw new Error(`README block ${block.name}: a curl without a localhost:3000 URL: ${line}`);
      requests.push({
        block: block.name,
        method: /\s-X (\w+)/.exec(line)?.[1] ?? 'GET',
        path,
        body: /\s-d '([^']*)'/.exec(line)?.[1],
        tokenVariable: /Bearer \$(\w+)/.exec(line)?.[1],
        exportsVariable: /export (\w+)=\$\(curl /.exec(line)?.[1],
      });
    }
  }
  return requests;
}

function convert(document: unknown): Promise<PostmanCollection> {
  return new Promise((resolve, reject) => {
    convertV2({ type: 'json', data: document as object }, { folderStrategy: 'Paths' }, (error, result?: CollectionResult) => {
      const collection = result?.output?.[0]?.data;
      if (error || !result?.result || !collection) reject(new Error(`conversion failed: ${error?.message ?? result?.reason}`));
      else resolve(collection as PostmanCollection);
    });
  });
}

function requestItems(items: PostmanItem[]): PostmanItem[] {
  return items.flatMap((item) => (item.item ? requestItems(item.item) : [item]));
}

/** The OpenAPI path template a concrete path matches, and its parameters: `/api/bookings/1` → `/api/bookings/{id}`, {id: '1'}. */
function matchTemplate(templates: string[], path: string): { template: string; parameters: Record<string, string> } {
  for (const template of templates) {
    const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`);
    const match = pattern.exec(path);
    if (match) return { template, parameters: { ...match.groups } };
  }
  throw new Error(`no documented path matches ${path}`);
}

function runNewman(collection: PostmanCollection): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run(
      // No reporters: the summary is asserted here. Bounded: 10 s a request, 40 s in all.
      { collection: collection as never, reporters: [], timeoutRequest: 10_000, timeout: 40_000 },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
}

let server: TestServer;
let document: { paths: Record<string, unknown> };
let collection: PostmanCollection;

beforeAll(async () => {
  server = await startTestServer({ seed: true });
  document = await (await fetch(`http://127.0.0.1:${server.port}/openapi/json`)).json();
  collection = await convert(document);
}, 60_000);
afterAll(() => server.stop());

describe('Postman: /openapi/json through openapi-to-postmanv2 and newman', () => {
  test('the converted collection points at the server the document came from', () => {
    expect(collection.variable).toContainEqual(expect.objectContaining({ key: 'baseUrl', value: `http://127.0.0.1:${server.port}` }));
    for (const item of requestItems(collection.item)) expect({ name: item.name, host: item.request!.url.host }).toEqual({ name: item.name, host: ['{{baseUrl}}'] });
  });

  test("README's 5-minute test and its holds, run by newman from the converted collection: every step answers as the README shows", async () => {
    const all = readmeRequests().map((request) => ({ ...request, ...matchTemplate(Object.keys(document.paths), request.path) }));
    // The on-sale waits for a sale that opens 10 s after its event is made (a shell variable newman
    // has not got): tests/docs/readme.test.ts runs it verbatim; here its routes must be in the collection.
    const onSale = ['onsale-event', 'join-line', 'book-early', 'my-place'];
    expect(all.filter((step) => onSale.includes(step.block)).map((step) => `${step.block}: ${step.method} ${step.template}`)).toEqual([
      'onsale-event: POST /api/events',
      'join-line: POST /api/events/{id}/queue',
      'book-early: POST /api/bookings',
      'my-place: GET /api/events/{id}/queue',
      'my-place: POST /api/bookings',
    ]);
    const collected = requestItems(collection.item).map((item) => `${item.request!.method} /${item.request!.url.path.join('/')}`);
    for (const route of ['POST /api/events/:id/queue', 'GET /api/events/:id/queue', 'DELETE /api/events/:id/queue']) expect(collected).toContain(route);
    const steps = all.filter((step) => !onSale.includes(step.block));
    expect(steps.map((step) => `${step.block}: ${step.method} ${step.template}`)).toEqual([
      'login: POST /api/auth/login',
      'keep-token: POST /api/auth/login',
      'book: POST /api/auth/login',
      'book: POST /api/bookings',
      'cancel: DELETE /api/bookings/{id}',
      'hold: POST /api/holds',
      'confirm: POST /api/holds/{id}/confirm',
      'health: GET /health',
    ]);

    const converted = requestItems(collection.item);
    const items = steps.map((step, index): PostmanItem => {
      const postmanPath = step.template.replace(/\{(\w+)\}/g, ':$1').slice(1);
      const source = converted.find((item) => item.request!.method === step.method && item.request!.url.path.join('/') === postmanPath);
      if (!source) throw new Error(`the collection has no ${step.method} ${step.template}`);
      const item = structuredClone(source);
      const request = item.request!;
      item.name = `${index + 1}. ${step.block}: ${item.name}`;
      request.url.variable = (request.url.variable ?? []).map((variable) => ({ ...variable, value: step.parameters[variable.key] ?? variable.value }));
      if (step.body !== undefined) request.body = { mode: 'raw', raw: step.body, options: { raw: { language: 'json' } } };
      else delete request.body;
      item.event = [];
      if (step.tokenVariable) {
        // The converted request sends `Bearer {{bearerToken}}`; the README's $NAME is that user's token.
        expect(request.auth).toEqual({ type: 'bearer', bearer: [{ key: 'token', value: '{{bearerToken}}' }] });
        item.event.push({ listen: 'prerequest', script: { exec: [`pm.collectionVariables.set('bearerToken', pm.collectionVariables.get('${step.tokenVariable}'));`] } });
      }
      if (step.exportsVariable || step.block === 'login') {
        const variable = step.exportsVariable ?? 'TOKEN';
        item.event.push({ listen: 'test', script: { exec: [`pm.collectionVariables.set('${variable}', pm.response.json().token);`] } });
      }
      return item;
    });

    const summary = await runNewman({ ...collection, item: items });
    expect(summary.run.failures.map((failure) => `${failure.source?.name}: ${failure.error.message}`)).toEqual([]);
    const answers = summary.run.executions.map((execution) => ({
      step: execution.item.name,
      url: execution.request.url.toString(),
      status: execution.response?.code,
      text: execution.response?.text() ?? '',
    }));
    const base = `http://127.0.0.1:${server.port}`;
    expect(answers.map(({ step, url, status }) => ({ step: step.slice(0, step.indexOf(':')), url, status }))).toEqual([
      { step: '1. login', url: `${base}/api/auth/login`, status: 200 },
      { step: '2. keep-token', url: `${base}/api/auth/login`, status: 200 },
      { step: '3. book', url: `${base}/api/auth/login`, status: 200 },
      { step: '4. book', url: `${base}/api/bookings`, status: 201 },
      { step: '5. cancel', url: `${base}/api/bookings/1`, status: 200 },
      { step: '6. hold', url: `${base}/api/holds`, status: 201 },
      { step: '7. confirm', url: `${base}/api/holds/1/confirm`, status: 201 },
      { step: '8. health', url: `${base}/health`, status: 200 },
    ]);

    // The last answer of each README block is what the README shows it printing.
    const compared: string[] = [];
    for (const [index, step] of steps.entries()) {
      if (steps[index + 1]?.block === step.block) continue;
      const output = blocks.get(`output:${step.block}`)?.text.trim();
      if (!output?.startsWith('{')) continue;
      compared.push(step.block);
      expect({ block: step.block, answer: answers[index]!.text, matches: lineMatches(output, answers[index]!.text) }).toEqual({
        block: step.block,
        answer: answers[index]!.text,
        matches: true,
      });
    }
    expect(compared).toEqual(['login', 'book', 'cancel', 'hold', 'confirm', 'health']);
  }, 60_000);
});
