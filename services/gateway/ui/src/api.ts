// The gateway's GraphQL API over HTTP (queries, mutations) and graphql-transport-ws
// (subscriptions). Same origin: the gateway serves this app, and `npm run dev` proxies /graphql.
import { createClient, type Client } from "graphql-ws";

export type UserError = { code: string; field: string[]; message: string };

/** A GraphQL or HTTP error of a whole request (refused, unauthenticated, unreachable). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
  get unauthenticated(): boolean {
    return this.status === 401 || this.code === "UNAUTHENTICATED";
  }
}

type GraphQLResponse<T> = {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
};

export async function request<T>(
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(`The gateway could not be reached: ${(error as Error).message}`, 0, "UNAVAILABLE");
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`The gateway answered HTTP ${response.status} without JSON.`, response.status);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(body.errors.map((e) => e.message).join("; "), response.status, first.extensions?.code);
  }
  if (!body.data) throw new ApiError(`The gateway answered HTTP ${response.status} without data.`, response.status);
  return body.data;
}

// --- live updates ---------------------------------------------------------------------------

export type LinkState = "idle" | "connecting" | "connected" | "lost" | "reconnected" | "refused";

export interface Live {
  /** Subscribe; `onData` gets each result's data. Returns the unsubscribe function. */
  subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void, onError?: (message: string) => void): () => void;
  dispose(): void;
}

/** Close codes after which retrying cannot help: the server refused this token or request. */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409, 4429, 4500]);

export function retryDelay(attempt: number): number {
  // 0.5 s, 1 s, 2 s, ... capped at 10 s, with jitter so many tabs do not reconnect in step.
  return Math.min(500 * 2 ** attempt, 10_000) + Math.floor(Math.random() * 300);
}

export function websocketUrl(location: Pick<Location, "protocol" | "host">): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
}

export function createLive(token: string, onState: (state: LinkState, detail?: string) => void): Live {
  // "lost" only after an abnormal close: the client itself closes an idle socket normally (1000)
  // when no subscription is left (lazy), and opening it again is not a reconnection.
  let lost = false;
  const client: Client = createClient({
    url: websocketUrl(window.location),
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true,
    lazyCloseTimeout: 3000, // keep the socket across page changes
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !(isCloseEvent(event) && FATAL_CLOSE_CODES.has(event.code)),
    retryWait: (attempt) => new Promise((resolve) => setTimeout(resolve, retryDelay(attempt))),
    on: {
      connected: () => {
        onState(lost ? "reconnected" : "connected");
        lost = false;
      },
      closed: (event) => {
        if (!isCloseEvent(event) || event.code === 1000) return;
        if (FATAL_CLOSE_CODES.has(event.code)) {
          onState("refused", event.reason);
        } else {
          lost = true;
          onState("lost");
        }
      },
    },
  });
  return {
    subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void, onError?: (message: string) => void) {
      return client.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            if (result.errors?.length) onError?.(result.errors.map((e) => e.message).join("; "));
            else if (result.data) onData(result.data as T);
          },
          error: (error) => onError?.(describeError(error)),
          complete: () => undefined,
        },
      );
    },
    dispose: () => void client.dispose(),
  };
}

function isCloseEvent(value: unknown): value is CloseEvent {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

function describeError(error: unknown): string {
  if (Array.isArray(error)) return error.map((e) => (e as { message?: string }).message ?? String(e)).join("; ");
  if (isCloseEvent(error)) return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ""})`;
  if (error instanceof Error) return error.message;
  return "the live connection failed";
}
