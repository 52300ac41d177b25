/** Run by `bun install` (postinstall): builds the embedded database's template (pglite-template.ts). */
import { migrationsFolder } from './client';
import { buildPgliteTemplate, pgliteTemplatePath } from './pglite-template';
import { existsSync } from 'node:fs';

try {
  if (existsSync(pgliteTemplatePath(migrationsFolder))) console.log('seatwatch: the embedded database template is up to date');
  else console.log(`seatwatch: embedded database template written to ${await buildPgliteTemplate(migrationsFolder)}`);
} catch (error) {
  // Never fails the install: without a template a fresh database is only slower to create.
  console.log(`seatwatch: no embedded database template (${error instanceof Error ? error.message : String(error)}); a fresh database will take a few seconds longer to create`);
}
