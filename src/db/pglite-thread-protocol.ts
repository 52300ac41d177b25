/** Messages between the server's thread and the thread that runs PGlite (pglite-thread.ts). */

export interface QueryResult<T = unknown> {
  rows: T[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

export type ToDatabase =
  /** `loadDataDir`: a dump of a data directory (PGlite's dumpDataDir) to start from instead of an empty one. */
  | { type: 'init'; dataDir: string | undefined; migrationsFolder: string; loadDataDir: Blob | undefined }
  /** `rawTypes`: type OIDs handed back as PostgreSQL's text, unparsed (Drizzle asks this for dates and times). */
  | { type: 'query'; id: number; text: string; params: unknown[]; rowMode: 'array' | 'object' | undefined; rawTypes: number[]; txId: number | undefined }
  | { type: 'begin'; id: number; txId: number }
  | { type: 'end'; id: number; txId: number; commit: boolean }
  | { type: 'listen'; id: number; channel: string }
  | { type: 'unlisten'; id: number; channel: string }
  | { type: 'close'; id: number };

/** A database error, its fields copied (the SQLSTATE `code` among them) so the server can tell what went wrong. */
export interface ErrorFields {
  message: string;
  fields: Record<string, unknown>;
}

export type FromDatabase =
  /** PGlite is open; the migrations are being applied. */
  | { type: 'migrating' }
  | { type: 'ready' }
  | { type: 'init-failed'; error: ErrorFields }
  | { type: 'done'; id: number; result?: QueryResult }
  | { type: 'failed'; id: number; error: ErrorFields }
  | { type: 'notification'; channel: string; payload: string };
