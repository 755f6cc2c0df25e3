/** Wire types of paged event reads (`GET /workspaces/{id}/events?limit=…`). */
import { Type, type Static } from '@sinclair/typebox';
import { EventSchema } from './wire.ts';

/** One page of a workspace's events, with cursors and what retention removed. */
export const EventPageSchema = Type.Object({
  events: Type.Array(EventSchema, { description: 'Oldest first' }),
  next: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `after` for the newer events that follow; null when this page reached the newest' }),
  prev: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the older events; null when no older event is kept' }),
  dropped: Type.Integer({ minimum: 0, description: 'Events of this workspace removed by the retention policy so far' }),
  truncated: Type.Boolean({ description: 'Older events than this page existed and were removed by retention' }),
  retention: Type.Object({ count: Type.Integer(), ageMs: Type.Integer() }, { description: 'The policy: newest events kept, and the age beyond which events are removed' }),
});
/** One page of events. */
export type EventPage = Static<typeof EventPageSchema>;
