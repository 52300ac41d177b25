/**
 * When each version of an event was committed, by the database's own clock — on PostgreSQL and
 * on PGlite alike (whose statements run on a thread of their own, beside the server's loop).
 *
 * The server learns of a commit only when its event loop reads the statement's result, and
 * during a spike that loop may be writing a message to 10,000 sockets for ~100 ms first; a lag
 * counted from that moment leaves the wait out. So the bench installs, in its own throwaway
 * database only, a trigger that records `clock_timestamp()` at the end of every statement that
 * moves an event's version: after the statement holds the row's lock and has written the booking,
 * just before the commit. A lag counted from it is an upper bound (by the commit's own time, a
 * millisecond or so) where the server's is a lower one. Both clocks are the host's wall clock.
 *
 * The server children run these statements on their own database handle (`commit-clock-install`,
 * `commit-clock-read`), since an in-memory PGlite is reachable from nowhere else.
 */
export const COMMIT_CLOCK_INSTALL = [
  `create table bench_commit_clock (
     event_id integer not null,
     version integer not null,
     at_ms double precision not null,
     primary key (event_id, version)
   )`,
  `create function bench_commit_clock() returns trigger language plpgsql as $$
   begin
     insert into bench_commit_clock values (new.id, new.version, extract(epoch from clock_timestamp()) * 1000);
     return null;
   end $$`,
  `create trigger bench_commit_clock after update of version on events
     for each row when (new.version is distinct from old.version) execute function bench_commit_clock()`,
];

/** Rows `{version, at_ms}` of one event (a bench-made integer id, written into the text). */
export const commitClockRead = (eventId: number) => `select version, at_ms from bench_commit_clock where event_id = ${Math.trunc(eventId)}`;

export const commitTimesOf = (rows: readonly Record<string, unknown>[]): [number, number][] => rows.map((row) => [Number(row.version), Number(row.at_ms)]);
