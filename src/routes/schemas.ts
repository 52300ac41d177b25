import { z } from 'zod';
import { isStorableInstant, isStorableText, MAX_ROW_ID, STORABLE_INSTANT_RULE, STORABLE_TEXT_RULE } from '../lib/storable';

/**
 * Request schemas shared by validation and the OpenAPI document. Every string that reaches the
 * database is `storableText`, every time `storableInstant` and every id `rowId`, so what passes
 * here PostgreSQL also accepts (src/lib/storable.ts).
 */

const storableText = () => z.string().refine(isStorableText, STORABLE_TEXT_RULE);

/** An ISO 8601 time with an offset, as a Date PostgreSQL can store. */
const storableInstant = () =>
  z.iso
    .datetime({ offset: true })
    .transform((text) => new Date(text))
    .refine(isStorableInstant, STORABLE_INSTANT_RULE);

const rowId = () => z.number().int().positive().max(MAX_ROW_ID);

export const positiveId = z.coerce.number().int().positive().max(MAX_ROW_ID);

export const idParams = z.object({ id: positiveId });

export const registerBody = z.object({
  email: z.email().max(320).refine(isStorableText, STORABLE_TEXT_RULE),
  password: z.string().min(8).max(128),
  name: storableText().trim().max(200).nullish(),
});

export const loginBody = z.object({
  email: storableText().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const eventFields = {
  name: storableText().trim().min(1).max(200),
  description: storableText().max(10_000),
  venue: storableText().max(200),
  startsAt: storableInstant(),
  capacity: z.number().int().min(1).max(1_000_000),
  status: z.enum(['draft', 'published']),
};

export const createEventBody = z.object({
  name: eventFields.name,
  description: eventFields.description.optional(),
  venue: eventFields.venue.optional(),
  startsAt: eventFields.startsAt,
  capacity: eventFields.capacity,
  status: eventFields.status.optional(),
});

export const patchEventBody = z
  .object(eventFields)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, { message: 'at least one field to change' });

export const listEventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
});

export const createBookingBody = z.object({
  eventId: rowId(),
  quantity: z.number().int().min(1).max(10).default(1),
});

export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(255).optional(),
});
