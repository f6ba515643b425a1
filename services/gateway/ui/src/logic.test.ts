import { describe, expect, it } from "vitest";
import {
  applyLiveEvent,
  can,
  checkForm,
  costAgainstBudget,
  emptyForm,
  errorsByField,
  FORM_FIELDS,
  notePhase,
  parseRoute,
  routePath,
  specFromForm,
  timeline,
} from "./logic";
import { retryDelay, websocketUrl } from "./api";

describe("roles", () => {
  it("lets viewers read and vote but not change deployments", () => {
    expect(can("viewer", "read")).toBe(true);
    expect(can("viewer", "feedback")).toBe(true);
    expect(can("viewer", "create")).toBe(false);
    expect(can("viewer", "rollback")).toBe(false);
    expect(can("deployer", "create")).toBe(true);
    expect(can("admin", "delete")).toBe(true);
    expect(can(undefined, "read")).toBe(false);
  });
});

describe("routes", () => {
  it("round-trips every page and keeps unknown paths", () => {
    for (const path of ["/", "/deployments/team-a", "/deployments/team-a/new", "/deployments/team-a/shop", "/memory/team-a", "/cost"]) {
      expect(routePath(parseRoute(path))).toBe(path);
    }
    expect(parseRoute("/deployments/team-a/shop")).toEqual({ page: "detail", ns: "team-a", name: "shop" });
    expect(parseRoute("/nope/x/y/z")).toEqual({ page: "notfound", path: "/nope/x/y/z" });
  });
});

describe("cost against budget", () => {
  it("shows the share and flags going over", () => {
    expect(costAgainstBudget(150, 300)).toEqual({ text: "$150.00 of $300.00 (50%)", share: 0.5, over: false });
    expect(costAgainstBudget(330, 300).over).toBe(true);
    expect(costAgainstBudget(null, 300).text).toBe("– of $300.00");
    expect(costAgainstBudget(42.5, null)).toEqual({ text: "$42.50", share: null, over: false });
  });
});

describe("user errors", () => {
  it("files each error under the closest form field, the rest at the action", () => {
    const errors = [
      { code: "VALIDATION", field: ["spec", "repository", "url"], message: "bad url" },
      { code: "BUDGET", field: ["spec", "budget", "maxMonthlyCost"], message: "over the team budget" },
      { code: "VALIDATION", field: ["spec", "budget", "maxMonthlyCost", "x"], message: "deep" },
      { code: "QUOTA", field: [], message: "no room" },
      { code: "VALIDATION", field: ["spec", "unknownThing"], message: "elsewhere" },
    ];
    const byField = errorsByField(errors, FORM_FIELDS);
    expect(byField.get("repository.url")?.map((e) => e.message)).toEqual(["bad url"]);
    expect(byField.get("budget.maxMonthlyCost")?.map((e) => e.message)).toEqual(["over the team budget", "deep"]);
    expect(byField.get("")?.map((e) => e.code)).toEqual(["QUOTA", "VALIDATION"]);
  });
});

describe("the deployment form", () => {
  it("refuses bad names, missing URLs and impossible budgets before calling the API", () => {
    const form = { ...emptyForm(), name: "Shop_1", maxMonthlyCost: "-3", alertThreshold: "2" };
    const fields = checkForm(form, true).map((e) => e.field.join("."));
    expect(fields).toEqual(["name", "spec.repository.url", "spec.cloudProvider", "spec.budget.maxMonthlyCost", "spec.budget.alertThreshold"]);
    expect(checkForm({ ...form, name: "" }, false).map((e) => e.field.join("."))).not.toContain("name");
  });

  it("builds the spec with only what was filled in", () => {
    const spec = specFromForm({
      ...emptyForm(),
      url: " https://example.com/a.git ",
      cloudProvider: "aws-a",
      maxMonthlyCost: "300",
      policies: ["require_https"],
      strategy: "vm",
    });
    expect(spec).toEqual({
      repository: { url: "https://example.com/a.git" },
      cloudProvider: "aws-a",
      policies: ["require_https"],
      strategy: "vm",
      budget: { maxMonthlyCost: 300, alertThreshold: 0.8, enforcementMode: "soft" },
    });
  });
});

describe("live updates", () => {
  it("adds, replaces and removes rows by name, keeping the list sorted", () => {
    const a = { name: "a", phase: "Pending" };
    const c = { name: "c", phase: "Pending" };
    let rows = applyLiveEvent([a, c], "ADDED", { name: "b", phase: "Pending" });
    expect(rows.map((r) => r.name)).toEqual(["a", "b", "c"]);
    rows = applyLiveEvent(rows, "MODIFIED", { name: "b", phase: "Running" });
    expect(rows[1].phase).toBe("Running");
    expect(applyLiveEvent(rows, "DELETED", { name: "a", phase: "Running" }).map((r) => r.name)).toEqual(["b", "c"]);
  });

  it("records a phase once per change and orders the timeline newest first", () => {
    let seen = notePhase([], "Pending", "2026-01-01T00:00:00Z");
    seen = notePhase(seen, "Pending", "2026-01-01T00:00:01Z");
    seen = notePhase(seen, "Running", "2026-01-01T00:00:05Z");
    expect(seen.map((s) => s.phase)).toEqual(["Pending", "Running"]);
    const entries = timeline(
      {
        conditions: [{ type: "Drifted", status: "True", reason: "Changed", message: "size", lastTransitionTime: "2026-01-01T00:00:03Z" }],
        events: [{ type: "Normal", reason: "Planned", message: "vm", lastTimestamp: "2026-01-01T00:00:02.500Z" }],
      },
      seen,
    );
    expect(entries.map((e) => e.title)).toEqual(["Phase Running", "Drifted=True", "Planned", "Phase Pending"]);
    expect(entries[1].warning).toBe(true);
  });

  it("reconnects with growing, capped waits on the page's own host", () => {
    expect(retryDelay(0)).toBeLessThan(retryDelay(3));
    expect(retryDelay(30)).toBeLessThanOrEqual(10_300);
    expect(websocketUrl({ protocol: "https:", host: "scia.example.com" })).toBe("wss://scia.example.com/graphql");
    expect(websocketUrl({ protocol: "http:", host: "127.0.0.1:50056" })).toBe("ws://127.0.0.1:50056/graphql");
  });
});
