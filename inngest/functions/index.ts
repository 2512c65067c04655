import type { InngestFunction } from "inngest";

/** Every function the serve route registers with Inngest. */
export const functions: InngestFunction.Any[] = [];
