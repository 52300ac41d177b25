/**
 * `bun run mutants [id …]`: applies each deliberate bug of mutants.ts to a scratch copy of the
 * tracked tree, runs the test files that must catch it, and prints which were caught. Exits 1
 * when any survived or no longer applies. Runs one mutant at a time (the suite is CPU-bound).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mutants, type Mutant } from './mutants';

const root = resolve(import.meta.dir, '../..');
/** A mutant's tests get this long; a hang counts as caught only if the tests fail, so it is reported apart. */
const TEST_TIMEOUT_MS = 10 * 60_000;

type Verdict = 'caught' | 'SURVIVED' | 'NOT APPLICABLE' | 'TIMED OUT' | 'SETUP FAILED';

function trackedFiles(): string[] {
  const listed = Bun.spawnSync(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root });
  return new TextDecoder().decode(listed.stdout).split('\0').filter(Boolean);
}

/** A copy of the working tree (tracked and untracked-but-not-ignored files) sharing node_modules. */
function scratchCopy(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'seatwatch-mutant-'));
  for (const file of files) {
    const target = join(dir, file);
    mkdirSync(dirname(target), { recursive: true });
    try {
      cpSync(join(root, file), target);
    } catch {
      // Deleted in the working tree but still in the index: nothing to copy.
    }
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function occurrences(text: string, piece: string): number {
  return text.split(piece).length - 1;
}

async function runMutant(mutant: Mutant, files: string[]): Promise<{ verdict: Verdict; seconds: number; detail: string }> {
  const started = performance.now();
  const source = readFileSync(join(root, mutant.file), 'utf8');
  const count = occurrences(source, mutant.from);
  if (count !== 1) return { verdict: 'NOT APPLICABLE', seconds: 0, detail: `"${mutant.from}" occurs ${count} times in ${mutant.file}` };
  const dir = scratchCopy(files);
  try {
    writeFileSync(join(dir, mutant.file), source.replace(mutant.from, mutant.to));
    const child = Bun.spawn(['bun', 'test', ...mutant.tests], {
      cwd: dir,
      env: { ...process.env, CI: '' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TEST_TIMEOUT_MS);
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    clearTimeout(timer);
    const output = stdout + stderr;
    const seconds = (performance.now() - started) / 1000;
    if (child.signalCode === 'SIGKILL') return { verdict: 'TIMED OUT', seconds, detail: '' };
    const failedTests = output.split('\n').filter((line) => line.startsWith('(fail)'));
    if (exitCode === 0) return { verdict: 'SURVIVED', seconds, detail: summaryLine(output) };
    // Only a test that ran and failed catches a mutant: a set-up hook that failed (often a busy
    // machine timing out a server start) proves nothing either way, so it is reported apart.
    const named = failedTests.filter((line) => !line.startsWith('(fail) (unnamed)'));
    if (named.length === 0) return { verdict: 'SETUP FAILED', seconds, detail: failedTests[0]?.slice(0, 110) ?? summaryLine(output) };
    return { verdict: 'caught', seconds, detail: named[0]!.slice(0, 110) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summaryLine(output: string): string {
  return output.split('\n').filter((line) => /^\s*\d+ (pass|fail)$/.test(line)).map((line) => line.trim()).join(', ');
}

const wanted = process.argv.slice(2);
const selected = wanted.length ? mutants.filter((mutant) => wanted.includes(mutant.id)) : mutants;
const unknown = wanted.filter((id) => !mutants.some((mutant) => mutant.id === id));
if (unknown.length) {
  console.error(`unknown mutant(s): ${unknown.join(', ')}`);
  process.exit(2);
}

const files = trackedFiles();
const rows: string[][] = [];
for (const mutant of selected) {
  const result = await runMutant(mutant, files);
  console.log(`${result.verdict.padEnd(14)} ${mutant.id} (${result.seconds.toFixed(0)} s) ${result.detail}`);
  rows.push([mutant.id, mutant.breaks, result.verdict, `${result.seconds.toFixed(0)} s`, mutant.tests.join(' ')]);
}

const header = ['mutant', 'breaks', 'verdict', 'time', 'tests'];
console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
const bad = rows.filter((row) => row[2] !== 'caught').length;
console.log(`\n${rows.length - bad} of ${rows.length} mutants caught`);
process.exit(bad === 0 ? 0 : 1);
