// Pure logic of the UI (tested directly in logic.test.ts): roles, routes, formatting, user errors,
// live list updates, filters, the deployment form and the timeline.
import type { UserError } from "./api";
import type { Condition, Detail, KubeEvent, Role, Row } from "./types";

// --- roles (docs/gateway.md: viewer reads and votes, deployer changes Deployments) -----------

const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };
export type Action = "read" | "feedback" | "preview" | "create" | "delete" | "rollback";
const NEEDS: Record<Action, Role> = {
  read: "viewer",
  feedback: "viewer",
  preview: "deployer",
  create: "deployer",
  delete: "deployer",
  rollback: "deployer",
};

export function can(role: Role | undefined, action: Action): boolean {
  return role !== undefined && RANK[role] >= RANK[NEEDS[action]];
}

export function neededRole(action: Action): Role {
  return NEEDS[action];
}

// --- routes -----------------------------------------------------------------------------------

export type Route =
  | { page: "home" }
  | { page: "list"; ns: string }
  | { page: "new"; ns: string }
  | { page: "detail"; ns: string; name: string }
  | { page: "memory"; ns: string }
  | { page: "cost" }
  | { page: "notfound"; path: string };

export function parseRoute(path: string): Route {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  const [head, ns, rest] = parts;
  if (head === "deployments" && ns && parts.length === 2) return { page: "list", ns };
  if (head === "deployments" && ns && rest === "new" && parts.length === 3) return { page: "new", ns };
  if (head === "deployments" && ns && rest && parts.length === 3) return { page: "detail", ns, name: rest };
  if (head === "memory" && ns && parts.length === 2) return { page: "memory", ns };
  if (head === "cost" && parts.length === 1) return { page: "cost" };
  return { page: "notfound", path };
}

export function routePath(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "home":
      return "/";
    case "list":
      return `/deployments/${e(route.ns)}`;
    case "new":
      return `/deployments/${e(route.ns)}/new`;
    case "detail":
      return `/deployments/${e(route.ns)}/${e(route.name)}`;
    case "memory":
      return `/memory/${e(route.ns)}`;
    case "cost":
      return "/cost";
    case "notfound":
      return route.path;
  }
}

// --- formatting -------------------------------------------------------------------------------

export function money(value: number | null | undefined, currency = "USD"): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat("en-US", { style: "currency", currency, maximumFractionDigits: 2 }).format(value);
}

export function percent(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${(value * 100).toFixed(digits)}%`;
}

/** "$176.98 of $300.00 (59%)", with the share and whether it is over. */
export function costAgainstBudget(estimated: number | null | undefined, budget: number | null | undefined): { text: string; share: number | null; over: boolean } {
  if (estimated === null || estimated === undefined) return { text: budget ? `– of ${money(budget)}` : "–", share: null, over: false };
  if (!budget) return { text: money(estimated), share: null, over: false };
  const share = estimated / budget;
  return { text: `${money(estimated)} of ${money(budget)} (${percent(share)})`, share, over: share > 1 };
}

export function when(value: string | null | undefined): string {
  if (!value) return "–";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// --- user errors: shown next to the field they name ---------------------------------------------

/** The key a user error is filed under: its field path without the leading "spec". */
export function errorKey(field: string[]): string {
  const path = field[0] === "spec" ? field.slice(1) : field;
  return path.join(".");
}

/** Errors by field key; errors naming no known field go under "" (shown at the action). */
export function errorsByField(errors: UserError[], knownFields: Iterable<string>): Map<string, UserError[]> {
  const known = new Set(knownFields);
  const result = new Map<string, UserError[]>();
  for (const error of errors) {
    let key = errorKey(error.field);
    // A deeper path (budget.maxMonthlyCost.x) belongs to the closest field the form has.
    while (key && !known.has(key)) key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
    result.set(key, [...(result.get(key) ?? []), error]);
  }
  return result;
}

export function describeUserError(error: UserError): string {
  return `${error.message} (${error.code})`;
}

// --- live list -----------------------------------------------------------------------------------

export function applyLiveEvent<T extends { name: string }>(rows: T[], type: string, row: T): T[] {
  const index = rows.findIndex((r) => r.name === row.name);
  if (type === "DELETED") return index < 0 ? rows : rows.filter((r) => r.name !== row.name);
  if (index < 0) return [...rows, row].sort((a, b) => a.name.localeCompare(b.name));
  const next = rows.slice();
  next[index] = row;
  return next;
}

export type ListFilter = { text: string; phase: string; strategy: string };

export function filterRows(rows: Row[], filter: ListFilter): Row[] {
  const text = filter.text.trim().toLowerCase();
  return rows.filter(
    (row) =>
      (!text || row.name.toLowerCase().includes(text) || row.spec.cloudProvider.toLowerCase().includes(text)) &&
      (!filter.phase || row.phase === filter.phase) &&
      (!filter.strategy || (row.decision?.strategy ?? row.spec.strategy) === filter.strategy),
  );
}

/** Conditions worth a glance first: the ones that are not as they should be. */
export function conditionHealthy(condition: Condition): boolean {
  const inverted = condition.type === "Drifted" || condition.type === "Degraded";
  return inverted ? condition.status === "False" : condition.status === "True";
}

export function drift(conditions: Condition[]): Condition | undefined {
  return conditions.find((c) => c.type === "Drifted" && c.status === "True");
}

// --- the new deployment form -----------------------------------------------------------------

export const POLICIES = ["require_https", "enable_monitoring", "high_availability", "enable_autoscaling", "encrypt_at_rest", "cost_optimized"] as const;
export const STRATEGIES = ["auto", "vm", "kubernetes", "serverless"] as const;
export const PHASES = ["Pending", "Analyzing", "Planning", "Provisioning", "Running", "Failed", "Deleting"] as const;

export type DeploymentForm = {
  name: string;
  url: string;
  ref: string;
  subdirectory: string;
  prompt: string;
  cloudProvider: string;
  region: string;
  domainName: string;
  maxMonthlyCost: string;
  alertThreshold: string;
  enforcementMode: "soft" | "hard";
  policies: string[];
  strategy: string;
};

export const FORM_FIELDS = [
  "name",
  "repository.url",
  "repository.ref",
  "repository.subdirectory",
  "prompt",
  "cloudProvider",
  "region",
  "domainName",
  "budget.maxMonthlyCost",
  "budget.alertThreshold",
  "budget.enforcementMode",
  "policies",
  "strategy",
];

export function emptyForm(): DeploymentForm {
  return {
    name: "",
    url: "",
    ref: "",
    subdirectory: "",
    prompt: "",
    cloudProvider: "",
    region: "",
    domainName: "",
    maxMonthlyCost: "",
    alertThreshold: "0.8",
    enforcementMode: "soft",
    policies: [],
    strategy: "auto",
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Checks made before asking the gateway (it checks again against the CRDs): errors per field. */
export function checkForm(form: DeploymentForm, forCreate: boolean): UserError[] {
  const errors: UserError[] = [];
  const add = (field: string[], message: string) => errors.push({ code: "VALIDATION", field, message });
  if (forCreate && !DNS_LABEL.test(form.name)) {
    add(["name"], "Use 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit.");
  }
  if (!form.url.trim()) add(["spec", "repository", "url"], "The repository URL is required.");
  if (!form.cloudProvider) add(["spec", "cloudProvider"], "Choose a cloud provider.");
  if (form.maxMonthlyCost.trim()) {
    const value = Number(form.maxMonthlyCost);
    if (!Number.isFinite(value) || value <= 0) add(["spec", "budget", "maxMonthlyCost"], "The budget must be a number above 0 (USD per month).");
  }
  if (form.alertThreshold.trim()) {
    const value = Number(form.alertThreshold);
    if (!Number.isFinite(value) || value <= 0 || value > 1) add(["spec", "budget", "alertThreshold"], "The alert threshold is a share of the budget, above 0 and at most 1.");
  }
  return errors;
}

/** The DeploymentSpecInput the form describes (empty optional fields left out). */
export function specFromForm(form: DeploymentForm): Record<string, unknown> {
  const optional = (value: string) => (value.trim() ? value.trim() : undefined);
  const spec: Record<string, unknown> = {
    repository: { url: form.url.trim(), ref: optional(form.ref), subdirectory: optional(form.subdirectory) },
    prompt: optional(form.prompt),
    cloudProvider: form.cloudProvider,
    region: optional(form.region),
    domainName: optional(form.domainName),
    policies: form.policies,
    strategy: form.strategy,
  };
  if (form.maxMonthlyCost.trim()) {
    spec.budget = {
      maxMonthlyCost: Number(form.maxMonthlyCost),
      alertThreshold: form.alertThreshold.trim() ? Number(form.alertThreshold) : undefined,
      enforcementMode: form.enforcementMode,
    };
  }
  return JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
}

// --- the deployment timeline -------------------------------------------------------------------

export type TimelineEntry = { at: string; kind: "phase" | "condition" | "event"; title: string; detail: string; warning: boolean };

/** Record a phase the UI saw (from the subscription), once per change. */
export function notePhase(seen: { phase: string; at: string }[], phase: string, at: string): { phase: string; at: string }[] {
  return seen.length && seen[seen.length - 1].phase === phase ? seen : [...seen, { phase, at }];
}

export function timeline(deployment: Pick<Detail, "conditions" | "events">, phases: { phase: string; at: string }[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...phases.map((p) => ({ at: p.at, kind: "phase" as const, title: `Phase ${p.phase}`, detail: "", warning: p.phase === "Failed" })),
    ...deployment.conditions
      .filter((c) => c.lastTransitionTime)
      .map((c) => ({
        at: c.lastTransitionTime as string,
        kind: "condition" as const,
        title: `${c.type}=${c.status}`,
        detail: [c.reason, c.message].filter(Boolean).join(": "),
        warning: !conditionHealthy(c),
      })),
    ...deployment.events
      .filter((e: KubeEvent) => e.lastTimestamp)
      .map((e) => ({
        at: e.lastTimestamp as string,
        kind: "event" as const,
        title: `${e.reason ?? "Event"}${e.count && e.count > 1 ? ` ×${e.count}` : ""}`,
        detail: e.message ?? "",
        warning: e.type === "Warning",
      })),
  ];
  return entries.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}
