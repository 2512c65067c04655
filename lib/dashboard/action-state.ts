/**
 * What a dashboard server action answers to the form that called it (shown next to the form,
 * with `role="status"` or `role="alert"`). A shared type, so it can be imported by client leaves.
 */
export type ActionState =
  | { status: "idle" }
  | { status: "ok"; message: string }
  | { status: "error"; message: string };

/** The answer of "create endpoint": on success, the signing secret, shown this once only. */
export type CreateEndpointState =
  | ActionState
  | { status: "error"; message: string; fields: { name: string; url: string } }
  | { status: "created"; message: string; endpointName: string; secret: string };

export const IDLE: ActionState = { status: "idle" };

/** The answer of "rotate secret": the new signing secret, shown this once only. */
export type RotateSecretState = ActionState | { status: "rotated"; message: string; secret: string };
