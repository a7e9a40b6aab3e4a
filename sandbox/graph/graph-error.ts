/** An error Graph answers in its envelope: `{error:{code,message,innerError}}` (errors.ts). */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
