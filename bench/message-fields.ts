/** Fields of a server message read without a full JSON.parse: load clients see millions of them. */

/** `"key":123` → 123 (NaN when the key is absent). `key` includes the quotes and the colon. */
export function numberAfter(text: string, key: string): number {
  const at = text.indexOf(key);
  if (at < 0) return NaN;
  return parseInt(text.slice(at + key.length, at + key.length + 16), 10);
}

/** The message's `type` ('' when it has none). */
export function typeOf(text: string): string {
  const at = text.indexOf('"type":"');
  if (at < 0) return '';
  const start = at + 8;
  return text.slice(start, text.indexOf('"', start));
}
