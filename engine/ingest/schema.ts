/** JSON Schemas of the Segment HTTP tracking API bodies, as far as Tideline reads them. */
const id = { type: ['string', 'number'], minLength: 1, maxLength: 256 };
const object = { type: 'object' };
const time = { type: 'string', format: 'date-time' };

export const messageSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['track', 'identify', 'page', 'screen', 'alias', 'group'] },
    messageId: { type: 'string', minLength: 1, maxLength: 256 },
    userId: id,
    anonymousId: id,
    previousId: id,
    groupId: id,
    event: { type: 'string', minLength: 1, maxLength: 256 },
    name: { type: 'string', maxLength: 256 },
    timestamp: time,
    originalTimestamp: time,
    sentAt: time,
    properties: object,
    traits: object,
    context: object,
    integrations: object,
  },
} as const;

export const batchSchema = {
  type: 'object',
  required: ['batch'],
  properties: {
    batch: { type: 'array', minItems: 1 },
    context: object,
    integrations: object,
  },
} as const;
