import { act, cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App, TOKEN_KEY } from "./App";
import { ConnectionBanner } from "./ui";
import { fakeGateway, FakeLive, ME_ADMIN, ME_VIEWER, row } from "./test/fixtures";

let live: FakeLive;
const liveFactory = () => live;

beforeEach(() => {
  live = new FakeLive();
  sessionStorage.clear();
  window.history.replaceState(null, "", "/");
});
afterEach(cleanup);

const page = (rows: unknown[]) => ({ deployments: { totalCount: rows.length, pageInfo: { hasNextPage: false, endCursor: null }, edges: rows.map((node) => ({ node })) } });

describe("sign in", () => {
  it("shows the API's refusal next to the token field and keeps the user out", async () => {
    fakeGateway({ Me: { status: 401, body: { errors: [{ message: "Unauthenticated: the token has expired", extensions: { code: "UNAUTHENTICATED" } }] } } });
    render(<App createLiveClient={liveFactory} />);
    await userEvent.type(screen.getByLabelText("Access token"), "expired.jwt.token");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const error = await screen.findByRole("alert");
    expect(error.textContent).toContain("the token has expired");
    expect(screen.getByLabelText("Access token").getAttribute("aria-describedby")).toContain(error.id);
    expect(sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("stores the token for the tab, shows teams and role, lists deployments, and signs out", async () => {
    const { calls } = fakeGateway({ Me: () => ME_ADMIN, Deployments: () => page([row("shop", "Running")]) });
    render(<App createLiveClient={liveFactory} />);
    await userEvent.type(screen.getByLabelText("Access token"), "Bearer good.jwt.token");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: /Deployments of team-a/ })).toBeTruthy();
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe("good.jwt.token");
    expect(screen.getByTestId("role").textContent).toContain("admin");
    expect(screen.getAllByRole("link", { name: "New deployment" })).toHaveLength(2); // nav and page
    expect(window.location.pathname).toBe("/deployments/team-a");
    expect(calls.find((c) => c.operation === "Deployments")?.variables).toMatchObject({ ns: "team-a" });
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(screen.getByLabelText("Access token")).toBeTruthy();
    expect(sessionStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(live.disposed).toBe(true);
  });
});

describe("a reload with a stored token", () => {
  it("asks who the user is again, and offers a retry when the gateway is unreachable", async () => {
    sessionStorage.setItem(TOKEN_KEY, "stored.jwt");
    let up = false;
    const { fetchMock } = fakeGateway({ Me: () => ME_ADMIN, Deployments: () => page([]) });
    const answer = fetchMock.getMockImplementation()!;
    fetchMock.mockImplementation(async (url: string, init: RequestInit) => {
      if (!up) throw new TypeError("Failed to fetch");
      return answer(url, init);
    });
    render(<App createLiveClient={liveFactory} />);
    expect((await screen.findByRole("alert")).textContent).toContain("The gateway could not be reached");
    up = true;
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByRole("heading", { name: /Deployments of team-a/ })).toBeTruthy();
    expect(JSON.parse(String(fetchMock.mock.calls[0][1].body)).query).toContain("me {");
  });

  it("signs out with the reason when the stored token is refused", async () => {
    sessionStorage.setItem(TOKEN_KEY, "expired.jwt");
    fakeGateway({ Me: { status: 401, body: { errors: [{ message: "Unauthenticated: the token has expired", extensions: { code: "UNAUTHENTICATED" } }] } } });
    render(<App createLiveClient={liveFactory} />);
    expect(await screen.findByText(/Signed out: Unauthenticated: the token has expired/)).toBeTruthy();
    expect(sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });
});

describe("deployments list", () => {
  it("updates phases from the subscription, filters, and hides create for viewers", async () => {
    sessionStorage.setItem(TOKEN_KEY, "viewer.jwt");
    window.history.replaceState(null, "", "/deployments/team-a");
    fakeGateway({ Me: () => ME_VIEWER, Deployments: () => page([row("api", "Running"), row("shop", "Pending")]) });
    render(<App createLiveClient={liveFactory} />);
    const shop = await screen.findByTestId("row-shop");
    expect(within(shop).getByTestId("phase").textContent).toBe("Pending");
    expect(screen.queryByRole("link", { name: "New deployment" })).toBeNull();
    expect(screen.getByText(/You are a viewer in team-a/)).toBeTruthy();

    expect(live.subscriptions[0].variables).toEqual({ ns: "team-a" });
    act(() => live.push({ deploymentUpdated: { type: "MODIFIED", deployment: row("shop", "Provisioning", { conditions: [{ type: "Planned", status: "True", reason: "Planned" }] }) } }));
    expect(within(screen.getByTestId("row-shop")).getByTestId("phase").textContent).toBe("Provisioning");
    expect(within(screen.getByTestId("row-shop")).getByText("Planned=True")).toBeTruthy();
    act(() => live.push({ deploymentUpdated: { type: "ADDED", deployment: row("blog", "Pending") } }));
    expect(screen.getByTestId("row-blog")).toBeTruthy();

    await userEvent.type(screen.getByRole("searchbox"), "sho");
    expect(screen.queryByTestId("row-api")).toBeNull();
    expect(screen.getByTestId("row-shop")).toBeTruthy();
    expect(screen.getByText("1 shown of 3")).toBeTruthy();
  });
});

describe("connection banner", () => {
  it("says when live updates are lost and when they are back", () => {
    const { rerender } = render(<ConnectionBanner state="connected" />);
    expect(screen.getByTestId("connection-banner").textContent).toBe("");
    rerender(<ConnectionBanner state="lost" />);
    expect(screen.getByTestId("connection-banner").textContent).toMatch(/lost: reconnecting/);
    rerender(<ConnectionBanner state="reconnected" />);
    expect(screen.getByTestId("connection-banner").textContent).toMatch(/Reconnected/);
    rerender(<ConnectionBanner state="refused" detail="Forbidden: token expired" />);
    expect(screen.getByTestId("connection-banner").textContent).toMatch(/token expired.*Sign in again/);
  });
});
