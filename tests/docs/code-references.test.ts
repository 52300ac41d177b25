import { describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The docs name real files and functions and link to each other; when code moves or a doc is
 * renamed, these tests say which doc went stale.
 */

const root = resolve(import.meta.dir, '../..');
const docsDir = join(root, 'docs');
const docs = ['README.md', ...readdirSync(docsDir).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const read = (path: string) => readFileSync(join(root, path), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}
const source = sourceFiles(join(root, 'src'))
  .map((path) => readFileSync(path, 'utf8'))
  .join('\n');

/** Backticked spans, outside fenced code blocks. */
function inlineCode(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!);
}

describe.each(docs)('%s', (doc) => {
  const markdown = read(doc);

  test('every repository path it names exists', () => {
    const paths = inlineCode(markdown).filter((span) => /^(src|tests|docs|bench|drizzle)\/[\w./-]*$/.test(span));
    const missing = paths.filter((path) => !existsSync(join(root, path)));
    expect(missing).toEqual([]);
  });

  test('every function it names as `name()` exists in src/', () => {
    const calls = inlineCode(markdown).filter((span) => /^[\w.]+\(\)(\.\w+\(\))*$/.test(span));
    const names = [...new Set(calls.flatMap((span) => [...span.matchAll(/(\w+)\(\)/g)].map((match) => match[1]!)))];
    const missing = names.filter((name) => !new RegExp(`(function\\s+${name}\\b|\\b${name}\\s*[(:=])`).test(source));
    expect(missing).toEqual([]);
  });

  test('every relative link resolves', () => {
    const links = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^(https?:|mailto:|#)/.test(target));
    const missing = links.filter((target) => !existsSync(resolve(join(root, dirname(doc)), target.split('#')[0]!)));
    expect(missing).toEqual([]);
  });
});

test('the four WebSocket docs and the configuration reference exist', () => {
  for (const name of ['websocket-flow-explained.md', 'websocket-testing-guide.md', 'websocket-code-walkthrough.md', 'websockets.md', 'configuration.md']) {
    expect(docs).toContain(`docs/${name}`);
  }
});

test('docs/configuration.md covers every variable src/config.ts reads', () => {
  const configSource = read('src/config.ts');
  const schemaBlock = configSource.slice(configSource.indexOf('const envSchema'), configSource.indexOf('});', configSource.indexOf('const envSchema')));
  const variables = [...schemaBlock.matchAll(/^\s+([A-Z][A-Z_]+):/gm)].map((match) => match[1]!);
  expect(variables.length).toBeGreaterThan(5);
  const configuration = read('docs/configuration.md');
  expect(variables.filter((variable) => !configuration.includes(`| \`${variable}\` |`))).toEqual([]);
});
