"""The web UI in a real headless Chromium against the real local stack (embedder, rag, planner,
Kubernetes API emulator, operator, gateway): sign in, preview a plan, create a deployment and
watch its phases change live, give feedback and read it back, roll back, and check that a viewer
cannot create and that one team cannot see another's deployments. Screenshots of the main
screens go to docs/screenshots/.

There is no Crossplane here: like `scia-dev up`, the test marks a Deployment's Infrastructure
Synced and Ready itself once the operator has created it (`play_crossplane`), which is what lets
the phase reach Running.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import ROOT, Stack, screenshot, wait_for

pytestmark = pytest.mark.timeout(900)

TEAM_A, TEAM_B = "team-a", "team-b"
APP = "examples/apps/flask-shop"
PROMPT = "Flask shop API with high availability, under $300/month in eu-west-3"
REPOSITORY = ROOT.as_uri()
LIVE = 30_000  # ms to wait for something the operator does

CREATE_PROVIDER = """
mutation ($ns: String!, $name: String!, $spec: CloudProviderSpecInput!) {
  createCloudProvider(namespace: $ns, name: $name, spec: $spec) { errors { code field message } }
}"""
CREATE = """
mutation ($ns: String!, $name: String!, $spec: DeploymentSpecInput!) {
  createDeployment(namespace: $ns, name: $name, spec: $spec) { deployment { name } errors { code field message } }
}"""
UPDATE = """
mutation ($ns: String!, $name: String!, $spec: DeploymentSpecPatch!) {
  updateDeployment(namespace: $ns, name: $name, spec: $spec) { deployment { name } errors { code field message } }
}"""
STATE = """
query ($ns: String!, $name: String!) {
  deployment(namespace: $ns, name: $name) {
    phase generation
    spec { rollbackTo }
    history { revision outcome reason }
    feedback { revision up down votes { user vote comment } }
  }
}"""


def spec(**overrides) -> dict:
    return {
        "repository": {"url": REPOSITORY, "subdirectory": APP},
        "prompt": PROMPT,
        "cloudProvider": "aws-a",
        "region": "eu-west-3",
        "domainName": "shop.team-a.example.com",
        "budget": {"maxMonthlyCost": 300, "alertThreshold": 0.8, "enforcementMode": "soft"},
        "policies": ["require_https", "enable_monitoring"],
        **overrides,
    }


def state(stack: Stack, token: str, ns: str, name: str) -> dict | None:
    return stack.data(token, STATE, ns=ns, name=name)["deployment"]


def play_crossplane(stack: Stack, ns: str, name: str, generation_done: int = 0) -> None:
    """Mark the Infrastructure Synced and Ready, as Crossplane would once the cloud answers."""
    path = f"/apis/scia.io/v1alpha1/namespaces/{ns}/infrastructures/{name}"
    wait_for(f"the Infrastructure {ns}/{name}", lambda: stack.kube("GET", path))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": now},
        {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": now},
    ]
    stack.kube("PATCH", f"{path}/status", {"status": {"conditions": conditions}}, "application/merge-patch+json")


def run_to_running(stack: Stack, token: str, ns: str, name: str) -> None:
    wait_for(f"{name} provisioning", lambda: (state(stack, token, ns, name) or {}).get("phase") in ("Provisioning", "Running"))
    play_crossplane(stack, ns, name)
    wait_for(f"{name} running", lambda: (state(stack, token, ns, name) or {}).get("phase") == "Running")


@pytest.fixture(scope="module")
def world(stack: Stack) -> Stack:
    return populate(stack)


def populate(stack: Stack) -> Stack:
    """Three users, two teams with a cloud account each, and one deployment the memory remembers."""
    stack.tokens = {
        "alice": stack.token("alice", f"{TEAM_A}:admin"),
        "val": stack.token("val", f"{TEAM_A}:viewer"),
        "bob": stack.token("bob", f"{TEAM_B}:admin"),
    }
    for ns, user in ((TEAM_A, "alice"), (TEAM_B, "bob")):
        created = stack.data(stack.tokens[user], CREATE_PROVIDER, ns=ns, name=f"aws-{ns[-1]}", spec={
            "type": "aws",
            "credentialsSecretRef": {"name": "aws-credentials", "key": "credentials"},
            "defaultRegion": "eu-west-3",
            "allowedRegions": ["eu-west-3", "eu-west-1"],
            "costControl": {"monthlyBudget": 1000, "alertThreshold": 0.8},
        })["createCloudProvider"]
        assert created["errors"] == []
    alice = stack.tokens["alice"]
    # A first deployment of the same app, run to the end: the memory then holds its outcome, and
    # the plan previewed in the browser cites it.
    assert stack.data(alice, CREATE, ns=TEAM_A, name="seed-shop", spec=spec())["createDeployment"]["errors"] == []
    run_to_running(stack, alice, TEAM_A, "seed-shop")
    wait_for("the memory to record seed-shop", lambda: (state(stack, alice, TEAM_A, "seed-shop") or {}).get("feedback"))
    bob = stack.tokens["bob"]
    assert stack.data(bob, CREATE, ns=TEAM_B, name="b-secret", spec=spec(cloudProvider="aws-b"))["createDeployment"]["errors"] == []
    return stack


def test_sign_in_shows_the_teams_and_role_and_lists_deployments(world, pages):
    page = pages.new()
    page.goto("/deployments/team-a")  # a deep link before signing in
    expect(page.get_by_role("heading", name="Sign in to SCIA")).to_be_visible()
    screenshot(page, "signin")
    page.get_by_label("Access token").fill(world.tokens["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Deployments of team-a")).to_be_visible()
    expect(page.get_by_test_id("user")).to_contain_text("alice")
    expect(page.get_by_test_id("role")).to_have_text(re.compile("admin"))
    expect(page.get_by_role("combobox", name="Team")).to_have_value(TEAM_A)
    row = page.get_by_test_id("row-seed-shop")
    expect(row.get_by_test_id("phase")).to_have_text("Running")
    expect(row).to_contain_text("of $300.00")
    expect(row).to_contain_text("Success")
    # Search filters the list.
    page.get_by_role("searchbox").fill("nothing-like-this")
    expect(page.get_by_text("Nothing matches the filter.")).to_be_visible()
    page.get_by_role("searchbox").fill("seed")
    expect(row).to_be_visible()
    # The token is kept for the tab: a reload stays signed in; sign out forgets it.
    page.reload()
    expect(page.get_by_test_id("row-seed-shop")).to_be_visible()
    screenshot(page, "deployments")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('scia.token')") is None


def test_preview_then_create_and_watch_the_phases_change_live(world, pages):
    page = pages.sign_in(world.tokens["alice"])
    page.get_by_role("link", name="New deployment").first.click()
    expect(page.get_by_role("heading", name="New deployment in team-a")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("shop")
    page.get_by_label("Repository URL").fill(REPOSITORY)
    page.get_by_label("Subdirectory").fill(APP)
    page.get_by_label("What do you need?").fill(PROMPT)
    page.get_by_label("Region").select_option("eu-west-3")
    page.get_by_label("Domain name").fill("shop.team-a.example.com")
    page.get_by_label("Monthly budget (USD)").fill("300")
    page.get_by_label("require https").check()
    page.get_by_label("enable monitoring").check()
    create = page.get_by_role("button", name="Create deployment")
    expect(create).to_be_disabled()  # preview first
    page.get_by_role("button", name="Preview plan").click()

    preview = page.get_by_role("region", name=re.compile("^Preview"))
    expect(preview).to_be_visible(timeout=120_000)
    # The analysis, with the evidence for the framework.
    expect(preview.get_by_test_id("application").first).to_contain_text("python/flask")
    expect(preview.get_by_test_id("evidence").first).to_contain_text("requirements.txt")
    # The plan with its reason, confidence and alternatives.
    expect(preview.get_by_test_id("plan")).to_contain_text(re.compile(r"(vm|kubernetes|serverless), confidence \d+%"))
    expect(preview.get_by_test_id("plan-reason")).not_to_be_empty()
    expect(preview.get_by_test_id("alternatives").locator("li").first).to_contain_text("confidence")
    # The itemised cost and the budget verdict.
    assert preview.get_by_test_id("cost-items").locator("tr").count() >= 2
    expect(preview.get_by_test_id("cost-total")).to_have_text(re.compile(r"^\$\d"))
    expect(preview.get_by_test_id("budget-verdict")).to_contain_text("$300.00 budget")
    # The past deployment that influenced it: seed-shop, with its outcome and score.
    citations = preview.get_by_test_id("citations")
    expect(citations).to_contain_text("seed-shop")
    expect(citations).to_contain_text("Success")
    expect(citations).to_contain_text(re.compile(r"score \d\.\d{3}"))
    # The cloud resources the selected composition renders.
    expect(preview.get_by_text(re.compile(r"^\d+ resources from composition aws-vm"))).to_be_visible()
    expect(preview.get_by_test_id("resources")).to_contain_text("VPC")
    expect(preview.get_by_test_id("resources")).to_contain_text("Certificate")  # require_https
    preview.scroll_into_view_if_needed()
    screenshot(page, "preview", full_page=True)

    # Create; the detail page then follows the operator through the subscription alone.
    expect(create).to_be_enabled()
    detail_loads = []
    page.on("request", lambda r: r.method == "POST" and "query Deployment(" in (r.post_data or "") and detail_loads.append(r))
    pages.frames.clear()
    create.click()
    expect(page).to_have_url(re.compile("/deployments/team-a/shop$"))
    expect(page.get_by_role("heading", name="shop", exact=True)).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    trail = page.get_by_test_id("phase-trail")
    expect(trail).to_contain_text("Provisioning", timeout=LIVE)
    play_crossplane(world, TEAM_A, "shop")
    expect(trail.locator("li").last).to_have_text("Running", timeout=LIVE)
    phases = trail.locator("li").all_inner_texts()
    assert len(phases) >= 2 and phases[-1] == "Running", phases
    assert phases.index("Provisioning") < phases.index("Running"), phases
    # Live: same document, one load of the page's query, and the changes came over the WebSocket.
    assert page.evaluate("window.__sameDocument") is True
    assert len(detail_loads) == 1
    assert any('"Running"' in frame and "deploymentUpdated" in frame for frame in pages.frames)
    expect(page.get_by_test_id("timeline")).to_contain_text("Phase Running")
    expect(page.get_by_test_id("timeline")).to_contain_text("Ready=True")
    expect(page.get_by_test_id("history")).to_contain_text("1")
    screenshot(page, "deployment", full_page=True)


def test_feedback_reaches_the_memory_and_reads_back(world, pages):
    alice = world.tokens["alice"]
    wait_for("the memory to record shop", lambda: (state(world, alice, TEAM_A, "shop") or {}).get("feedback"))
    page = pages.sign_in(alice)
    page.goto("/deployments/team-a/shop")
    page.get_by_label("Comment (optional)").fill("Fast to set up, right size for the shop")
    page.get_by_role("button", name="Thumbs up").click()
    expect(page.get_by_text(re.compile("Your thumbs up on revision 1 is stored"))).to_be_visible()
    expect(page.get_by_test_id("votes")).to_contain_text("alice (up): Fast to set up")
    stored = state(world, alice, TEAM_A, "shop")["feedback"]
    assert stored["up"] == 1 and stored["down"] == 0
    assert stored["votes"] == [{"user": "alice", "vote": 1, "comment": "Fast to set up, right size for the shop"}]

    # A new vote replaces the old one; after a reload the page shows what the memory holds.
    page.get_by_label("Comment (optional)").fill("Too expensive after all")
    page.get_by_role("button", name="Thumbs down").click()
    expect(page.get_by_text(re.compile("Your thumbs down on revision 1 is stored"))).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("feedback-counts")).to_contain_text("0 up, 1 down")
    expect(page.get_by_test_id("votes")).to_contain_text("alice (down): Too expensive after all")
    assert state(world, alice, TEAM_A, "shop")["feedback"]["votes"][0]["comment"] == "Too expensive after all"


def test_roll_back_to_an_earlier_revision(world, pages):
    alice = world.tokens["alice"]
    # Revision 2: a new budget makes the operator plan and apply again.
    changed = world.data(alice, UPDATE, ns=TEAM_A, name="shop", spec={"budget": {"maxMonthlyCost": 280, "enforcementMode": "soft"}})
    assert changed["updateDeployment"]["errors"] == []
    wait_for("revision 2 in the history", lambda: any(h["revision"] == 2 for h in state(world, alice, TEAM_A, "shop")["history"]))
    play_crossplane(world, TEAM_A, "shop")

    page = pages.sign_in(alice)
    page.goto("/deployments/team-a/shop")
    history = page.get_by_test_id("history")
    expect(history.get_by_role("button", name="Roll back to 1")).to_be_visible(timeout=LIVE)
    history.get_by_role("button", name="Roll back to 1").click()
    history.get_by_role("button", name="Confirm rollback to 1").click()
    expect(page.get_by_text("Rolling back to revision 1")).to_be_visible()
    assert state(world, alice, TEAM_A, "shop")["spec"]["rollbackTo"] == 1
    # The operator re-applies revision 1's parameters as a new revision; the page shows it live.
    expect(history).to_contain_text("rollback to revision 1", timeout=LIVE)
    reasons = {h["revision"]: h["reason"] for h in state(world, alice, TEAM_A, "shop")["history"]}
    assert "rollback to revision 1" in reasons[max(reasons)]


def test_a_viewer_cannot_create_and_the_api_refuses(world, pages):
    page = pages.sign_in(world.tokens["val"])
    expect(page.get_by_test_id("role")).to_have_text(re.compile("viewer"))
    expect(page.get_by_role("heading", name="Deployments of team-a")).to_be_visible()
    expect(page.get_by_role("link", name="New deployment")).to_have_count(0)
    page.goto("/deployments/team-a/new")
    expect(page.get_by_text("creating a deployment needs the deployer role")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Preview plan")).to_be_disabled()
    page.goto("/deployments/team-a/shop")
    expect(page.get_by_role("heading", name="shop", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Roll back|Delete"))).to_have_count(0)
    expect(page.get_by_role("button", name="Thumbs up")).to_be_visible()  # viewers may vote
    # The gateway refuses too: the control is not the only guard.
    refused = world.data(world.tokens["val"], CREATE, ns=TEAM_A, name="sneaky", spec=spec())["createDeployment"]
    assert refused["deployment"] is None
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert state(world, world.tokens["alice"], TEAM_A, "sneaky") is None


def test_team_a_cannot_see_team_b(world, pages):
    page = pages.sign_in(world.tokens["bob"])
    expect(page.get_by_role("heading", name="Deployments of team-b")).to_be_visible()
    expect(page.get_by_test_id("row-b-secret")).to_be_visible()
    options = page.get_by_role("combobox", name="Team").locator("option").all_inner_texts()
    assert options == ["team-b (admin)"]
    expect(page.get_by_test_id("row-shop")).to_have_count(0)
    page.goto("/deployments/team-a/shop")
    expect(page.get_by_role("alert")).to_contain_text("Could not load shop")
    answer = world.gql(world.tokens["bob"], '{ deployments(namespace: "team-a") { totalCount } }')
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # And the other way round.
    alice = pages.sign_in(world.tokens["alice"])
    assert "team-b" not in " ".join(alice.get_by_role("combobox", name="Team").locator("option").all_inner_texts())
    assert world.gql(world.tokens["alice"], '{ deployment(namespace: "team-b", name: "b-secret") { name } }')["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_memory_search_explains_matches_and_cost_view(world, pages):
    page = pages.sign_in(world.tokens["alice"])
    page.get_by_role("link", name="Memory").click()
    page.get_by_label("Words").fill("flask api with postgres and redis")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("memory-results")
    expect(results).to_contain_text("seed-shop")
    first = results.locator("li").first
    expect(first).to_contain_text(re.compile(r"score \d\.\d{3}"))
    expect(first.get_by_role("columnheader", name="meaning (vector similarity)")).to_be_visible()
    expect(first.get_by_role("meter", name=re.compile("vector similarity"))).to_be_visible()
    screenshot(page, "memory", full_page=True)
    page.get_by_role("combobox", name="Outcome").select_option("Failed")
    expect(page.get_by_text("Nothing remembered matches.")).to_be_visible()

    page.get_by_role("link", name="Cost").click()
    team = page.get_by_test_id("cost-team-a")
    expect(team).to_contain_text("By strategy")
    expect(team.get_by_role("table", name="By strategy")).to_contain_text("$")
    screenshot(page, "cost", full_page=True)


def test_narrow_screen_and_keyboard(world, pages):
    page = pages.sign_in(world.tokens["alice"], width=390, height=844)
    expect(page.get_by_test_id("row-seed-shop")).to_be_visible()
    # Nothing wider than the screen: wide tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "narrow")
    # Keyboard: on a fresh load the skip link comes first and lands on the content.
    page.goto("/deployments/team-a")
    expect(page.get_by_test_id("row-seed-shop")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused


def test_a_lost_websocket_reconnects_and_says_so(world, pages):
    """Restart the gateway under an open page: the banner says so, then updates flow again."""
    from scia.devstack.stack import RunningService

    pages.allowed.append("WebSocket connection to")  # Chromium logs the refused reconnect attempts
    alice = world.tokens["alice"]
    page = pages.sign_in(alice)
    page.goto("/deployments/team-a")
    expect(page.get_by_test_id("row-seed-shop")).to_be_visible()
    page.wait_for_timeout(500)  # the subscription is open
    local = world.stack
    gateway = next(s for s in local.running if s.spec.name == "gateway")
    gateway.stop()
    banner = page.get_by_test_id("connection-banner")
    expect(banner).to_contain_text("Live updates lost: reconnecting", timeout=LIVE)
    restarted = RunningService(gateway.spec, local.log_dir)
    local.running[local.running.index(gateway)] = restarted
    restarted.wait_ready()
    expect(banner).to_contain_text("Reconnected", timeout=LIVE)
    # Updates flow again over the new connection.
    assert world.data(alice, CREATE, ns=TEAM_A, name="after-reconnect", spec=spec())["createDeployment"]["errors"] == []
    expect(page.get_by_test_id("row-after-reconnect")).to_be_visible(timeout=LIVE)
