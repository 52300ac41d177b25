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

const isoTimestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const clientId = /^ws_\d+_[a-z0-9]+$/;

/**
 * Whether an actual value is what the docs show. Values that differ on every run match by shape:
 * a string with `…` matches any string with the same start (and end), a timestamp any
 * timestamp, a clientId any clientId. Everything else, keys and their order included, is exact.
 */
export function matchesDocumented(expected: unknown, actual: unknown): boolean {
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
      return matchesDocumented(JSON.parse(expected), JSON.parse(actual));
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

/** Every fenced block's lines, with the indentation of list items taken off. */
export function fencedBlocks(markdown: string): string[][] {
  return [...markdown.matchAll(/^([ \t]*)```\w*\n([\s\S]*?)\n[ \t]*```/gm)].map(([, indent, body]) =>
    body!.split('\n').map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line).trimEnd()),
  );
}

/** One thing the docs say to type into a WebSocket, and the answers they say come back. */
export interface TypedExample {
  /** what the docs show, as written */
  shown: string;
  /** the frame's text */
  send: string;
  /** the answers, each compared by `matches` */
  answers: string[];
  matches(answer: string, actual: unknown): boolean;
}

/**
 * wscat transcripts: `> text` is typed, the `< json` lines under it are the answers (a `>` with
 * nothing after it is the prompt).
 */
export function wscatExamples(markdown: string): TypedExample[] {
  const examples: TypedExample[] = [];
  for (const lines of fencedBlocks(markdown)) {
    let current: TypedExample | null = null;
    for (const line of lines) {
      if (line.startsWith('> ')) {
        current = { shown: line, send: line.slice(2), answers: [], matches: (answer, actual) => matchesDocumented(JSON.parse(answer), actual) };
        examples.push(current);
      } else if (line.startsWith('< ') && current) current.answers.push(line.slice(2));
    }
  }
  return examples;
}

/**
 * Browser-console lines `ws.send(EXPRESSION); // server: {…}`: the expression is what is sent,
 * the comment the object the console prints, in its JavaScript notation; a `…` in it stands for
 * more fields, which may then be anything.
 */
export function consoleExamples(markdown: string): TypedExample[] {
  const examples: TypedExample[] = [];
  for (const lines of fencedBlocks(markdown)) {
    for (const line of lines) {
      const [, expression, printed] = /^ws\.send\((.*)\);\s*\/\/ server: (\{.*\})$/.exec(line) ?? [];
      if (!expression || !printed) continue;
      examples.push({
        shown: line,
        send: String(new Function(`return ${expression};`)()),
        answers: [printed],
        matches(answer, actual) {
          const open = answer.includes('…');
          const expected = new Function(`return (${answer.replace(/,?\s*…/, '')});`)() as Record<string, unknown>;
          if (typeof actual !== 'object' || actual === null) return false;
          const picked = open ? Object.fromEntries(Object.keys(expected).map((key) => [key, (actual as Record<string, unknown>)[key]])) : actual;
          return matchesDocumented(expected, picked);
        },
      });
    }
  }
  return examples;
}
