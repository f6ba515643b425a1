import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App, TOKEN_KEY } from "../App";
import { fakeGateway, FakeLive, ME_ADMIN, ME_VIEWER } from "../test/fixtures";

const PROVIDERS = { cloudProviders: [{ name: "aws-a", type: "aws", defaultRegion: "eu-west-3", allowedRegions: ["eu-west-3", "eu-west-1"], monthlyBudget: 1000, ready: true }] };

function preview(errors: unknown[] = []) {
  return {
    previewPlan: {
      errors,
      analysis: {
        url: "https://example.com/shop.git", ref: "main", commitSha: "0123456789abcdef", hasCompose: false,
        backingServices: ["postgres", "redis"], fileCount: 12, sizeBytes: 40960, warnings: [],
        applications: [{
          path: ".", name: "shop", language: "python", framework: "flask", confidence: 0.97, ports: [5000],
          startCommand: "gunicorn app:app", hasDockerfile: false, runtimeVersion: "3.11", dependencies: ["flask", "psycopg"], traits: ["web"],
          frameworkEvidence: [{ file: "requirements.txt", line: 1, rule: "dependency", detail: "flask==3.0" }],
        }],
      },
      plan: {
        strategy: "vm", reason: "A small Flask API with a database fits two VMs.", confidence: 0.93, warnings: [], rejected: false,
        rejectionReason: null, parameters: { instanceType: "t3.micro" },
        alternatives: [{ strategy: "kubernetes", reason: "more moving parts for one app", confidence: 0.4, cost: { monthlyTotal: 410 } }],
        budget: { status: "WITHIN", budget: 300, estimated: 172.78, enforcement: "soft", message: "estimated $172.78/month is within the $300.00 budget (58%)" },
        citations: [{ recordId: "r1", summary: "team-a/blog rev 2 (flask on vm)", outcome: "Success", score: 0.812, influence: "raised confidence in vm" }],
        provenance: { engine: "knowledge-base", retrievalUsed: true, retrievalNote: "3 similar deployments recalled", llmModel: null, llmRejectionReason: null },
      },
      composition: "aws-vm-v1",
      resources: [
        { name: "vpc", apiVersion: "ec2.aws.m.upbound.io/v1beta1", kind: "VPC", manifest: { spec: { forProvider: { cidrBlock: "10.0.0.0/16" } } } },
        { name: "load-balancer", apiVersion: "elbv2.aws.m.upbound.io/v1beta1", kind: "LB", manifest: {} },
      ],
      cost: { monthlyTotal: 172.78, pricingSource: "static 2026-10", items: [
        { name: "ec2", description: "2 x t3.micro", quantity: 2, unit: "instance", unitPrice: 8.5, monthly: 17 },
        { name: "rds", description: "db.t3.micro", quantity: 1, unit: "instance", unitPrice: 155.78, monthly: 155.78 },
      ] },
    },
  };
}

let live: FakeLive;
beforeEach(() => {
  live = new FakeLive();
  sessionStorage.setItem(TOKEN_KEY, "t");
  window.history.replaceState(null, "", "/deployments/team-a/new");
});
afterEach(cleanup);

async function fill() {
  await userEvent.type(await screen.findByLabelText("Name"), "shop");
  await userEvent.type(screen.getByLabelText("Repository URL"), "https://example.com/shop.git");
  await userEvent.type(screen.getByLabelText("Monthly budget (USD)"), "300");
  await userEvent.click(screen.getByLabelText("require https"));
}

describe("new deployment", () => {
  it("previews everything the planner returns before Create is possible, then creates", async () => {
    const { calls } = fakeGateway({
      Me: () => ME_ADMIN,
      CloudProviders: () => PROVIDERS,
      PreviewPlan: () => preview(),
      CreateDeployment: () => ({ createDeployment: { deployment: { name: "shop" }, errors: [] } }),
      Deployment: () => ({ deployment: null }),
    });
    render(<App createLiveClient={() => live} />);
    await fill();
    const create = screen.getByRole("button", { name: "Create deployment" }) as HTMLButtonElement;
    expect(create.disabled).toBe(true);
    await userEvent.click(screen.getByRole("button", { name: "Preview plan" }));

    const section = await screen.findByRole("region", { name: /Preview/ });
    expect(within(section).getByTestId("evidence").textContent).toContain("requirements.txt:1");
    expect(within(section).getByTestId("plan").textContent).toContain("vm, confidence 93%");
    expect(within(section).getByTestId("plan-reason").textContent).toContain("fits two VMs");
    expect(within(section).getByTestId("alternatives").textContent).toContain("kubernetes (confidence 40%, $410.00/month)");
    expect(within(section).getByTestId("cost-items").textContent).toContain("2 x t3.micro");
    expect(within(section).getByTestId("cost-total").textContent).toBe("$172.78");
    expect(within(section).getByTestId("budget-verdict").textContent).toContain("within the $300.00 budget");
    expect(within(section).getByTestId("citations").textContent).toMatch(/team-a\/blog rev 2.*Success.*score 0\.812/);
    expect(within(section).getByText("2 resources from composition aws-vm-v1.")).toBeTruthy();
    expect(within(section).getByTestId("resources").textContent).toMatch(/vpc.*VPC.*ec2\.aws\.m\.upbound\.io\/v1beta1.*load-balancer.*LB/s);
    const spec = calls.find((c) => c.operation === "PreviewPlan")!.variables.spec;
    expect(spec).toMatchObject({ cloudProvider: "aws-a", region: "eu-west-3", policies: ["require_https"], budget: { maxMonthlyCost: 300 } });

    // Editing the form makes the preview stale: Create waits for a new preview.
    await userEvent.type(screen.getByLabelText("Ref (branch, tag or commit)"), "v2");
    expect(create.disabled).toBe(true);
    await userEvent.click(screen.getByRole("button", { name: "Preview plan" }));
    await screen.findByText("The preview below matches the form.");
    expect(create.disabled).toBe(false);
    await userEvent.click(create);
    await screen.findByRole("heading", { name: "shop" });
    expect(window.location.pathname).toBe("/deployments/team-a/shop");
    expect(calls.find((c) => c.operation === "CreateDeployment")!.variables).toMatchObject({ ns: "team-a", name: "shop" });
  });

  it("shows the API's user errors next to the fields they name", async () => {
    fakeGateway({
      Me: () => ME_ADMIN,
      CloudProviders: () => PROVIDERS,
      PreviewPlan: () => preview(),
      CreateDeployment: () => ({
        createDeployment: {
          deployment: null,
          errors: [
            { code: "BUDGET", field: ["spec", "budget", "maxMonthlyCost"], message: "300 is above the team's budget of 200" },
            { code: "QUOTA", field: [], message: "aws-a allows 3 deployments" },
          ],
        },
      }),
    });
    render(<App createLiveClient={() => live} />);
    await fill();
    await userEvent.click(screen.getByRole("button", { name: "Preview plan" }));
    await screen.findByText("The preview below matches the form.");
    await userEvent.click(screen.getByRole("button", { name: "Create deployment" }));
    const budget = screen.getByLabelText("Monthly budget (USD)");
    await screen.findByText(/above the team's budget of 200 \(BUDGET\)/);
    expect(budget.getAttribute("aria-invalid")).toBe("true");
    const described = budget.getAttribute("aria-describedby")!.split(" ");
    expect(document.getElementById(described[0])!.textContent).toContain("BUDGET");
    expect(document.getElementById("form-errors")!.textContent).toContain("allows 3 deployments (QUOTA)");
  });

  it("checks the name before calling the API", async () => {
    const { calls } = fakeGateway({ Me: () => ME_ADMIN, CloudProviders: () => PROVIDERS, PreviewPlan: () => preview() });
    render(<App createLiveClient={() => live} />);
    await userEvent.type(await screen.findByLabelText("Name"), "Bad_Name");
    await userEvent.click(screen.getByRole("button", { name: "Preview plan" }));
    expect(await screen.findByText(/The repository URL is required/)).toBeTruthy();
    expect(calls.some((c) => c.operation === "PreviewPlan")).toBe(false);
  });

  it("disables the whole form for a viewer and says which role it needs", async () => {
    fakeGateway({ Me: () => ME_VIEWER, CloudProviders: () => PROVIDERS });
    render(<App createLiveClient={() => live} />);
    expect(await screen.findByText(/creating a deployment needs the deployer role/)).toBeTruthy();
    expect(screen.getByLabelText("Name").matches(":disabled")).toBe(true); // through its fieldset
    expect((screen.getByRole("button", { name: "Preview plan" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
