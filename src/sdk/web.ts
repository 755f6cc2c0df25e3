/** Wire types of the browser session and the workspace list stream. */
import { Type, type Static } from '@sinclair/typebox';
import { UserSchema, WorkspaceSchema } from './wire.ts';

/** Body of POST /session: the user token to sign in with. */
export const SignInSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
/** Sign-in body, as TypeScript. */
export type SignIn = Static<typeof SignInSchema>;

/** A browser session: who is signed in and the CSRF value to send in `x-berth-csrf` on state-changing requests. */
export const SessionSchema = Type.Object({ user: UserSchema, csrf: Type.String(), expiresAt: Type.String() });
/** Session, as TypeScript. */
export type SessionInfo = Static<typeof SessionSchema>;

/** One line of the workspace list stream: the list first, then each change and deletion. */
export const WatchMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('snapshot'), workspaces: Type.Array(WorkspaceSchema) }),
  Type.Object({ type: Type.Literal('changed'), workspace: WorkspaceSchema }),
  Type.Object({ type: Type.Literal('deleted'), id: Type.String() }),
]);
/** Watch message, as TypeScript. */
export type WatchMessage = Static<typeof WatchMessageSchema>;
