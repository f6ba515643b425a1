// Test doubles at the I/O edge: a fetch that answers GraphQL operations by name, and a live
// client whose subscriptions the test pushes events into.
import { vi } from "vitest";
import type { Live } from "../api";

export type Handler = (variables: Record<string, unknown>) => unknown;

/** Replace fetch: each operation (by its name) gets `{data: handler(variables)}`; calls are recorded. */
export function fakeGateway(handlers: Record<string, Handler | { status: number; body: unknown }>) {
  const calls: { operation: string; variables: Record<string, unknown> }[] = [];
  const fetchMock = vi.fn(async (_url: string, init: RequestInit) => {
    const { query, variables } = JSON.parse(String(init.body)) as { query: string; variables: Record<string, unknown> };
    const operation = /(?:query|mutation|subscription)\s+(\w+)/.exec(query)?.[1] ?? "anonymous";
    calls.push({ operation, variables });
    const handler = handlers[operation];
    if (!handler) return new Response(JSON.stringify({ errors: [{ message: `no fake for ${operation}` }] }), { status: 500 });
    if (typeof handler !== "function") return new Response(JSON.stringify(handler.body), { status: handler.status });
    return new Response(JSON.stringify({ data: handler(variables) }), { status: 200, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}

export class FakeLive implements Live {
  subscriptions: { query: string; variables: Record<string, unknown>; onData: (data: unknown) => void }[] = [];
  disposed = false;
  subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void) {
    const entry = { query, variables, onData: onData as (data: unknown) => void };
    this.subscriptions.push(entry);
    return () => {
      this.subscriptions = this.subscriptions.filter((s) => s !== entry);
    };
  }
  push(data: unknown) {
    for (const s of this.subscriptions) s.onData(data);
  }
  dispose() {
    this.disposed = true;
  }
}

export const ME_ADMIN = { me: { user: "demo", groups: ["team-a:admin"], tenants: [{ namespace: "team-a", role: "admin" }] } };
export const ME_VIEWER = { me: { user: "val", groups: ["team-a:viewer"], tenants: [{ namespace: "team-a", role: "viewer" }] } };

export function row(name: string, phase: string, extra: Record<string, unknown> = {}) {
  return {
    id: `team-a/${name}`,
    namespace: "team-a",
    name,
    phase,
    spec: { strategy: "auto", cloudProvider: "aws-a", region: "eu-west-3", budget: { maxMonthlyCost: 300, enforcementMode: "soft" } },
    status: { lastOutcome: null, message: null },
    conditions: [{ type: "Planned", status: "Unknown", reason: "Waiting", message: null }],
    decision: { strategy: "vm" },
    cost: { estimatedMonthly: 150, currency: "USD", budgetVerdict: "within" },
    ...extra,
  };
}
