/**
 * The WebSocket protocol (SPEC §3): the single source of truth for every message. The server
 * parses client messages with these schemas; the client library imports the message types
 * with `import type` only, so the browser bundle carries none of zod.
 */
import { z } from 'zod';
import { MAX_ROW_ID } from './lib/storable';

export const WS_CLOSE = {
  goingAway: 1001,
  messageTooBig: 1009,
  unauthorized: 4401,
  eventNotFound: 4404,
  rateLimited: 4429,
} as const;

export const WS_LIMITS = {
  maxFrameBytes: 16 * 1024,
  maxSubscriptions: 100,
  rateBucketSize: 40,
  rateRefillPerSecond: 20,
  rateErrorIntervalMs: 1000,
  rateDropsBeforeClose: 200,
  rateDropWindowMs: 10_000,
  idleTimeoutSeconds: 120,
  clientPingIntervalMs: 30_000,
  /** `token_expiring` goes out this long before the connection's token expires. */
  tokenWarningSeconds: 60,
} as const;

const eventId = z.number().int().positive().max(MAX_ROW_ID);

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('subscribe_event'), eventId }),
  z.object({ type: z.literal('unsubscribe_event'), eventId }),
  // Any value parses: a token that is not a string is refused like a forged one (`unauthorized`),
  // so a client learns one answer about its token, whatever was wrong with it.
  z.object({ type: z.literal('refresh_token'), token: z.unknown().transform((token) => (typeof token === 'string' ? token : null)) }),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export const clientMessageTypes: readonly ClientMessageType[] = ['ping', 'subscribe_event', 'unsubscribe_event', 'refresh_token'];

export type SeatMessageType = 'booking_created' | 'booking_cancelled' | 'seats_held' | 'seats_released' | 'seat_update';

/** Why a hold's seats came back: its owner let them go, or its time ran out. */
export type ReleaseReason = 'released' | 'expired';

export interface SeatStateFields {
  eventId: number;
  availableSeats: number;
  /** Seats in active holds: neither available nor booked. */
  heldSeats: number;
  capacity: number;
  version: number;
}

/** Just the seat state of anything that carries it (a change, a row with more columns), as an object of its own. */
export function seatStateOf(from: SeatStateFields): SeatStateFields {
  return { eventId: from.eventId, availableSeats: from.availableSeats, heldSeats: from.heldSeats, capacity: from.capacity, version: from.version };
}

/** A message to an event's watchers; only `seats_released` says why (`reason`). */
export type SeatMessage =
  | ({ type: Exclude<SeatMessageType, 'seats_released'> } & SeatStateFields)
  | ({ type: 'seats_released'; reason: ReleaseReason } & SeatStateFields);

/** The text of a seat message: the state, its kind, and for a release its reason. */
export function seatMessageText(kind: SeatMessageType, state: SeatStateFields, reason?: ReleaseReason): string {
  return JSON.stringify(kind === 'seats_released' ? { type: kind, ...state, reason: reason ?? 'released' } : { type: kind, ...state });
}

/** Where an event's waiting line stands (SPEC §9): tickets up to `servingThrough` are admitted. */
export interface QueueProgress {
  eventId: number;
  servingThrough: number;
  /** In line and not yet admitted (before the lottery: everyone in line). */
  waiting: number;
  ratePerMinute: number;
}

export type ErrorCode =
  | 'unauthorized'
  | 'token_expired'
  | 'event_not_found'
  | 'invalid_message'
  | 'unknown_type'
  | 'too_many_subscriptions'
  | 'rate_limited';

export type ServerMessage =
  | { type: 'connection_established'; clientId: string; userId: number; eventId?: number; message?: string }
  /** With a waiting room, also where its line stands. */
  | ({ type: 'subscribed'; servingThrough?: number; waiting?: number } & SeatStateFields)
  /** To an event's watchers, at most once a second while its line moves. */
  | ({ type: 'queue_progress' } & QueueProgress)
  | { type: 'unsubscribed'; eventId: number }
  | { type: 'pong' }
  /** Answers `refresh_token`: the connection now lives until `expiresAt` (ISO 8601). */
  | { type: 'token_refreshed'; expiresAt: string }
  /** Once per token, `tokenWarningSeconds` before its `expiresAt` (at once if less is left): time to send `refresh_token`. */
  | { type: 'token_expiring'; expiresAt: string }
  | SeatMessage
  /** To every connection of the hold's owner, `HOLD_WARNING_SECONDS` before `expiresAt` (again after an extension). */
  | { type: 'hold_expiring'; holdId: number; eventId: number; expiresAt: string }
  /** To every connection of the hold's owner, once its seats came back. */
  | { type: 'hold_expired'; holdId: number; eventId: number }
  | { type: 'error'; code: ErrorCode; message: string; eventId?: number | string };

export type ServerMessageType = ServerMessage['type'];

export type ParsedClientMessage =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: 'invalid_message' | 'unknown_type'; message: string };

/**
 * Parses one text frame exactly as the client sent it. Only a JSON object is a message: text that
 * is not JSON, or JSON that is a number, string, array or null, is `invalid_message`.
 */
export function parseClientMessage(text: string): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_message', message: 'Message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_message', message: 'Message must be a JSON object' };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, code: 'invalid_message', message: 'Message needs a string "type"' };
  if (!(clientMessageTypes as readonly string[]).includes(type)) {
    return { ok: false, code: 'unknown_type', message: `Unknown message type "${type.slice(0, 64)}"` };
  }
  const parsed = clientMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'message';
    return { ok: false, code: 'invalid_message', message: `${field}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, message: parsed.data };
}
