/**
 * A fresh embedded database starts from a migrated template instead of running PGlite's initdb
 * (3–7 s on a 2-core machine; loading the 4.5 MB template takes ~1 s). `bun install` builds it
 * (package.json's postinstall runs pglite-template-cli.ts) under node_modules/.cache, named after
 * the PGlite version and the migrations it holds, so a template from other code is never used.
 * Without one a fresh database is created as before; migrations apply on top either way.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/seatwatch', import.meta.url));
const GZIP = 'application/x-gzip';

function templateKey(migrationsFolder: string): string {
  const pgliteVersion = (JSON.parse(readFileSync(fileURLToPath(import.meta.resolve('@electric-sql/pglite/package.json')), 'utf8')) as { version: string }).version;
  const journal = readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8');
  return createHash('sha256').update(pgliteVersion).update('\0').update(journal).digest('hex').slice(0, 16);
}

export function pgliteTemplatePath(migrationsFolder: string): string {
  return join(cacheDir, `pglite-template-${templateKey(migrationsFolder)}.tar.gz`);
}

/** The template for these migrations, if `bun install` (or an earlier build) made one. */
export async function readPgliteTemplate(migrationsFolder: string): Promise<Blob | undefined> {
  const path = pgliteTemplatePath(migrationsFolder);
  if (!existsSync(path)) return undefined;
  return new Blob([await Bun.file(path).arrayBuffer()], { type: GZIP });
}

/** Creates a migrated database in memory and writes its dump as the template. */
export async function buildPgliteTemplate(migrationsFolder: string): Promise<string> {
  const path = pgliteTemplatePath(migrationsFolder);
  const database = new PGlite();
  try {
    await migrate(drizzle({ client: database }), { migrationsFolder });
    const dump = await database.dumpDataDir('gzip');
    mkdirSync(cacheDir, { recursive: true });
    // Written aside and renamed, so a server starting meanwhile never reads half a template.
    const partial = `${path}.${process.pid}.partial`;
    await Bun.write(partial, dump);
    renameSync(partial, path);
    return path;
  } finally {
    await database.close();
  }
}
