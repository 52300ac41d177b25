-- Every server process LISTENs on user_deleted and forgets the account (and closes its sockets)
-- when a users row goes: the payload is the user's id, or '*' when the table was truncated.
CREATE FUNCTION notify_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('user_deleted', OLD.id::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER users_notify_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION notify_user_deleted();
--> statement-breakpoint
CREATE FUNCTION notify_users_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('user_deleted', '*');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER users_notify_truncated AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION notify_users_truncated();
