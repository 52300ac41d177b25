/**
 * Reading the runnable parts of the docs. A fenced block marked `<!-- readme-test: NAME -->` is a
 * command to run; one marked `<!-- readme-test-output: NAME -->` is what the docs say it prints.
 */

export interface MarkedBlock {
  kind: 'command' | 'output';
  name: string;
  language: string;
  text: string;
}

const markedBlock = /<!-- readme-test(-output)?: ([\w-]+) -->\s*\n```(\w*)\n([\s\S]*?)\n```/g;

export function markedBlocks(markdown: string): Map<string, MarkedBlock> {
  const blocks = new Map<string, MarkedBlock>();
  for (const [, output, name, language, text] of markdown.matchAll(markedBlock)) {
    const kind = output ? 'output' : 'command';
    const key = `${kind}:${name}`;
    if (blocks.has(key)) throw new Error(`two ${kind} blocks named ${name}`);
    blocks.set(key, { kind, name: name!, language: language!, text: text! });
  }
  return blocks;
}

/** What a bare … in a documented JSON line becomes: it matches any value. */
const ANY_VALUE = '\u0000any value';

const isoTimestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const clientId = /^ws_\d+_[a-z0-9]+$/;

/**
 * Whether an actual value is what the docs show. Values that differ on every run match by shape:
 * a string with `…` matches any string with the same start (and end), a bare `…` any value, a
 * timestamp any timestamp, a clientId any clientId. Everything else, keys and their order included, is exact.
 */
export function matchesDocumented(expected: unknown, actual: unknown): boolean {
  if (expected === ANY_VALUE) return actual !== undefined;
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false;
    const elision = expected.indexOf('…');
    if (elision >= 0) return actual.startsWith(expected.slice(0, elision)) && actual.endsWith(expected.slice(elision + 1));
    if (isoTimestamp.test(expected)) return isoTimestamp.test(actual);
    if (clientId.test(expected)) return clientId.test(actual);
    return expected === actual;
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((item, i) => matchesDocumented(item, actual[i]));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const expectedKeys = Object.keys(expected);
    const actualKeys = Object.keys(actual);
    if (expectedKeys.join() !== actualKeys.join()) return false;
    return expectedKeys.every((key) => matchesDocumented((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key]));
  }
  return Object.is(expected, actual);
}

/** One printed line against one documented line: JSON compared by structure, text by matchesDocumented. */
export function lineMatches(expectedLine: string, actualLine: string): boolean {
  const expected = expectedLine.trim();
  const actual = actualLine.trim();
  if (expected.startsWith('{')) {
    try {
      // A bare … in place of a value (`"startupMs":…`) stands for any value.
      const withAnyValues = expected.replace(/:…(?=[,}])/g, `:${JSON.stringify(ANY_VALUE)}`);
      return matchesDocumented(JSON.parse(withAnyValues), JSON.parse(actual));
    } catch {
      return false;
    }
  }
  return matchesDocumented(expected, actual);
}

export function outputLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
}
