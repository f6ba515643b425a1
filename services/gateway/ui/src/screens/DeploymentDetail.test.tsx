import { act, cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App, TOKEN_KEY } from "../App";
import { fakeGateway, FakeLive, ME_ADMIN, ME_VIEWER, row } from "../test/fixtures";

function detail(extra: Record<string, unknown> = {}) {
  const base = row("shop", "Running");
  return {
    ...base,
    uid: "u1", resourceVersion: "7", generation: 2, createdAt: "2026-11-01T10:00:00Z", endpoints: ["https://shop.example.com"],
    spec: { ...base.spec, repository: { url: "https://example.com/shop.git", ref: null, subdirectory: null }, prompt: "shop", domainName: null, rollbackTo: null, paused: false, policies: ["require_https"], budget: { maxMonthlyCost: 300, alertThreshold: 0.8, enforcementMode: "soft" } },
    status: { lastOutcome: "Success", message: "the Infrastructure is ready", observedGeneration: 2 },
    conditions: [
      { type: "Ready", status: "True", reason: "Available", message: null, lastTransitionTime: "2026-11-01T10:05:00Z" },
      { type: "Drifted", status: "False", reason: "InSync", message: null, lastTransitionTime: "2026-11-01T10:05:00Z" },
    ],
    decision: { strategy: "vm", reason: "fits two VMs", confidence: 0.9, engine: "knowledge-base", warnings: [], alternatives: [], citations: [] },
    cost: { estimatedMonthly: 176.98, currency: "USD", budgetVerdict: "Within", actualThisMonth: 0, pricingSource: null, items: [] },
    history: [
      { revision: 1, timestamp: "2026-11-01T10:00:00Z", strategy: "vm", compositionName: "aws-vm", estimatedMonthlyCost: 176.98, outcome: "Success", reason: "first" },
      { revision: 2, timestamp: "2026-11-02T10:00:00Z", strategy: "vm", compositionName: "aws-vm", estimatedMonthlyCost: 190.1, outcome: "Success", reason: "bigger" },
    ],
    events: [{ type: "Normal", reason: "Provisioning", message: "Infrastructure shop applied", count: 1, lastTimestamp: "2026-11-01T10:01:00Z", source: "scia-operator" }],
    feedback: { recordId: "r2", revision: 2, up: 0, down: 0, votes: [] },
    ...extra,
  };
}

let live: FakeLive;
beforeEach(() => {
  live = new FakeLive();
  sessionStorage.setItem(TOKEN_KEY, "t");
  window.history.replaceState(null, "", "/deployments/team-a/shop");
});
afterEach(cleanup);

describe("deployment detail", () => {
  it("follows the subscription: phases, drift, and a deletion", async () => {
    fakeGateway({ Me: () => ME_ADMIN, Deployment: () => ({ deployment: detail() }) });
    render(<App createLiveClient={() => live} />);
    await screen.findByRole("heading", { name: "shop" });
    expect(screen.getByTestId("endpoints").textContent).toContain("https://shop.example.com");
    expect(live.subscriptions[0].variables).toEqual({ ns: "team-a", name: "shop" });
    expect(screen.queryByText(/Drift detected/)).toBeNull();

    const drifted = detail({
      phase: "Provisioning",
      conditions: [{ type: "Drifted", status: "True", reason: "ParametersChanged", message: "instanceType edited outside SCIA", lastTransitionTime: "2026-11-03T09:00:00Z" }],
    });
    act(() => live.push({ deploymentUpdated: { type: "MODIFIED", deployment: drifted } }));
    expect(screen.getByText(/Drift detected:/).parentElement!.textContent).toContain("instanceType edited outside SCIA");
    expect(within(screen.getByTestId("phase-trail")).getAllByTestId("phase").map((e) => e.textContent)).toEqual(["Running", "Provisioning"]);
    expect(screen.getByTestId("timeline").textContent).toMatch(/Drifted=True.*ParametersChanged/);

    act(() => live.push({ deploymentUpdated: { type: "DELETED", deployment: drifted } }));
    expect(screen.getByText(/has been deleted/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Delete deployment" })).toBeNull();
  });

  it("rolls back only after confirmation and shows a refusal next to the action", async () => {
    const { calls } = fakeGateway({
      Me: () => ME_ADMIN,
      Deployment: () => ({ deployment: detail() }),
      Rollback: () => ({ rollbackDeployment: { deployment: null, errors: [{ code: "CONFLICT", field: [], message: "the Deployment changed meanwhile" }] } }),
    });
    render(<App createLiveClient={() => live} />);
    const history = await screen.findByTestId("history");
    expect(within(history).getByText("current")).toBeTruthy(); // revision 2 is applied
    await userEvent.click(within(history).getByRole("button", { name: "Roll back to 1" }));
    expect(calls.some((c) => c.operation === "Rollback")).toBe(false);
    await userEvent.click(within(history).getByRole("button", { name: "Confirm rollback to 1" }));
    expect((await screen.findByText(/the Deployment changed meanwhile \(CONFLICT\)/)).closest("#rollback-errors")).toBeTruthy();
    expect(calls.find((c) => c.operation === "Rollback")!.variables).toEqual({ ns: "team-a", name: "shop", revision: 1 });
  });

  it("deletes after confirmation, and lets a viewer vote but not change anything", async () => {
    const { calls } = fakeGateway({
      Me: () => ME_ADMIN,
      Deployment: () => ({ deployment: detail() }),
      DeleteDeployment: () => ({ deleteDeployment: { deleted: true, errors: [] } }),
    });
    render(<App createLiveClient={() => live} />);
    await userEvent.click(await screen.findByRole("button", { name: "Delete deployment" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(calls.some((c) => c.operation === "DeleteDeployment")).toBe(false);
    await userEvent.click(screen.getByRole("button", { name: "Delete deployment" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes, delete shop" }));
    expect(await screen.findByText(/has been deleted/)).toBeTruthy();
    cleanup();

    fakeGateway({
      Me: () => ME_VIEWER,
      Deployment: () => ({ deployment: detail() }),
      Feedback: (v) => ({ provideFeedback: { feedback: { recordId: "r2", revision: 2, up: 0, down: 1, votes: [{ user: "val", vote: v.vote, comment: v.comment, updatedAt: null }] }, errors: [] } }),
    });
    render(<App createLiveClient={() => new FakeLive()} />);
    await screen.findByRole("heading", { name: "shop" });
    expect(screen.queryByRole("button", { name: /Roll back|Delete/ })).toBeNull();
    await userEvent.type(screen.getByLabelText("Comment (optional)"), "too slow");
    await userEvent.click(screen.getByRole("button", { name: "Thumbs down" }));
    expect(await screen.findByText(/Your thumbs down on revision 2 is stored/)).toBeTruthy();
    expect(screen.getByTestId("votes").textContent).toContain("val (down): too slow");
    expect(screen.getByTestId("feedback-counts").textContent).toContain("0 up, 1 down");
  });
});
