import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mutants } from './mutants';

const root = resolve(import.meta.dir, '../..');

describe('the mutants list (bun run mutants)', () => {
  test('ids are unique', () => {
    const ids = mutants.map((mutant) => mutant.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const mutant of mutants) {
    test(`${mutant.id} still applies: its text occurs once and its tests exist`, () => {
      const source = readFileSync(join(root, mutant.file), 'utf8');
      expect(source.split(mutant.from).length - 1).toBe(1);
      expect(mutant.to).not.toBe(mutant.from);
      expect(mutant.tests.length).toBeGreaterThan(0);
      for (const file of mutant.tests) expect(existsSync(join(root, file))).toBe(true);
    });
  }
});
