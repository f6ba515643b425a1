// What every screen needs: the signed-in user, the API (HTTP and live), and navigation.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from "react";
import { ApiError, request, type Live, type LinkState } from "./api";
import type { Me, Role } from "./types";

export type Session = {
  token: string;
  me: Me;
  live: Live;
  link: { state: LinkState; detail?: string };
  query: <T>(query: string, variables?: Record<string, unknown>) => Promise<T>;
  roleIn: (namespace: string) => Role | undefined;
  signOut: (reason?: string) => void;
  navigate: (path: string) => void;
};

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in session");
  return session;
}

/** Run a query when its inputs change; stale answers (after a newer call) are dropped. */
export function useQuery<T>(query: string, variables: Record<string, unknown>, enabled = true) {
  const session = useSession();
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: enabled });
  const key = JSON.stringify(variables);
  const generation = useRef(0);
  const run = useCallback(() => {
    if (!enabled) return;
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    session
      .query<T>(query, JSON.parse(key) as Record<string, unknown>)
      .then((data) => mine === generation.current && setState({ data, loading: false }))
      .catch((error: Error) => mine === generation.current && setState({ error: error.message, loading: false }));
  }, [query, key, enabled]);
  useEffect(run, [run]);
  return { ...state, reload: run, setData: (update: (data: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })) };
}

/** The HTTP API bound to a token; a refused token signs the user out with the reason. */
export function boundQuery(token: string, onUnauthenticated: (message: string) => void) {
  return async <T,>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    try {
      return await request<T>(token, query, variables);
    } catch (error) {
      if (error instanceof ApiError && error.unauthenticated) onUnauthenticated(error.message);
      throw error;
    }
  };
}
