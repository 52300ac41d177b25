import { z } from 'zod';

/** Request schemas shared by validation and the OpenAPI document. */

export const positiveId = z.coerce.number().int().positive().max(2_147_483_647);

export const idParams = z.object({ id: positiveId });

export const registerBody = z.object({
  email: z.email().max(320),
  password: z.string().min(8).max(128),
  name: z.string().trim().max(200).nullish(),
});

export const loginBody = z.object({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const eventFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10_000),
  venue: z.string().max(200),
  startsAt: z.iso.datetime({ offset: true }).transform((text) => new Date(text)),
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
  eventId: z.number().int().positive().max(2_147_483_647),
  quantity: z.number().int().min(1).max(10).default(1),
});

export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(255).optional(),
});
