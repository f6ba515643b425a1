// Sign-in, the signed-in shell (teams, role, navigation, connection banner) and the router.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { createLive, request, type Live, type LinkState } from "./api";
import { can, parseRoute, routePath, type Route } from "./logic";
import { ME } from "./queries";
import { boundQuery, SessionContext, useSession, type Session } from "./session";
import type { Me } from "./types";
import { Alert, ConnectionBanner, Link, Loading } from "./ui";
import { DeploymentList } from "./screens/DeploymentList";
import { NewDeployment } from "./screens/NewDeployment";
import { DeploymentDetail } from "./screens/DeploymentDetail";
import { MemoryView } from "./screens/MemoryView";
import { CostView } from "./screens/CostView";

export const TOKEN_KEY = "scia.token";

export function SignIn({ onSignIn, notice }: { onSignIn: (token: string, me: Me) => void; notice?: string }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, "");
    if (!value) {
      setError("Paste a token first.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const data = await request<{ me: Me }>(value, ME);
      onSignIn(value, data.me);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin" id="main">
      <h1>Sign in to SCIA</h1>
      {notice && <Alert kind="warning">{notice}</Alert>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="token">Access token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "token-error token-help" : "token-help"}
          autoComplete="off"
          spellCheck={false}
        />
        <p id="token-help" className="help">
          A JWT from your identity provider. On the local stack, <code>make up</code> prints one for the demo user.
          It is kept in this tab only (session storage).
        </p>
        {error && (
          <p id="token-error" className="field-errors" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

type Props = { createLiveClient?: (token: string, onState: (state: LinkState, detail?: string) => void) => Live };

export function App({ createLiveClient = createLive }: Props) {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string>();
  const [path, setPath] = useState(() => window.location.pathname);
  const [link, setLink] = useState<{ state: LinkState; detail?: string }>({ state: "idle" });

  const signOut = useCallback((reason?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setMe(null);
    setNotice(reason);
  }, []);

  const query = useMemo(() => (token ? boundQuery(token, (m) => signOut(`Signed out: ${m}`)) : null), [token, signOut]);

  // A reload keeps the token (session storage) but not `me`: ask again. A refused token signs
  // out (boundQuery); any other failure is shown with a way to retry.
  const [meError, setMeError] = useState<string>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!token || me || !query) return;
    setMeError(undefined);
    query<{ me: Me }>(ME).then(
      (d) => setMe(d.me),
      (e: Error) => setMeError(e.message),
    );
  }, [token, me, query, attempt]);

  // One live (WebSocket) client per token; disposed on sign-out.
  const [live, setLive] = useState<Live | null>(null);
  useEffect(() => {
    if (!token) return;
    const client = createLiveClient(token, (state, detail) => setLink({ state, detail }));
    setLive(client);
    return () => {
      client.dispose();
      setLive(null);
      setLink({ state: "idle" });
    };
  }, [token, createLiveClient]);
  useEffect(() => {
    if (link.state !== "reconnected") return;
    const timer = setTimeout(() => setLink((l) => (l.state === "reconnected" ? { state: "connected" } : l)), 6000);
    return () => clearTimeout(timer);
  }, [link.state]);

  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((to: string) => {
    if (to !== window.location.pathname) window.history.pushState(null, "", to);
    setPath(to);
  }, []);

  if (!token || !query) {
    return (
      <SignIn
        notice={notice}
        onSignIn={(value, who) => {
          sessionStorage.setItem(TOKEN_KEY, value);
          setNotice(undefined);
          setMe(who);
          setToken(value);
        }}
      />
    );
  }
  if (meError)
    return (
      <main id="main" className="signin">
        <Alert>Could not load your teams: {meError}</Alert>
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>
          Retry
        </button>{" "}
        <button type="button" className="secondary" onClick={() => signOut()}>
          Sign out
        </button>
      </main>
    );
  if (!me || !live) return <Loading what="your teams" />;

  const session: Session = {
    token,
    me,
    live,
    link,
    query,
    roleIn: (ns) => me.tenants.find((t) => t.namespace === ns)?.role,
    signOut,
    navigate,
  };
  return (
    <SessionContext.Provider value={session}>
      <Shell route={parseRoute(path)} />
    </SessionContext.Provider>
  );
}

function Shell({ route }: { route: Route }) {
  const session = useSession();
  const { me, link, navigate, signOut } = session;
  const first = me.tenants[0]?.namespace;
  const current = "ns" in route ? route.ns : first;
  const role = current ? session.roleIn(current) : undefined;
  const main = useRef<HTMLElement>(null);

  // Home goes to the first team's deployments.
  useEffect(() => {
    if (route.page === "home" && first) navigate(routePath({ page: "list", ns: first }));
  }, [route.page, first, navigate]);
  // After a navigation (not on the first load, where Tab must reach the skip link first), move
  // focus to the new page's content, so keyboard and screen-reader users land on it.
  const path = routePath(route);
  const firstPath = useRef(path);
  useEffect(() => {
    if (path !== firstPath.current) main.current?.focus();
    firstPath.current = "";
  }, [path]);

  const nav: { to: string; label: string; active: boolean; show: boolean }[] = current
    ? [
        { to: routePath({ page: "list", ns: current }), label: "Deployments", active: route.page === "list" || route.page === "detail", show: true },
        { to: routePath({ page: "new", ns: current }), label: "New deployment", active: route.page === "new", show: can(role, "create") },
        { to: routePath({ page: "memory", ns: current }), label: "Memory", active: route.page === "memory", show: true },
        { to: "/cost", label: "Cost", active: route.page === "cost", show: true },
      ]
    : [];

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">SCIA</span>
        <nav aria-label="Main">
          <ul>
            {nav
              .filter((n) => n.show)
              .map((n) => (
                <li key={n.label}>
                  <Link to={n.to} aria-current={n.active ? "page" : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who">
          {me.tenants.length > 0 && current && (
            <label>
              <span>Team</span>{" "}
              <select
                value={current}
                onChange={(e) => {
                  const ns = e.target.value;
                  const page = route.page === "memory" ? ({ page: "memory", ns } as const) : ({ page: "list", ns } as const);
                  navigate(routePath(page));
                }}
              >
                {me.tenants.map((t) => (
                  <option key={t.namespace} value={t.namespace}>
                    {t.namespace} ({t.role})
                  </option>
                ))}
              </select>
            </label>
          )}
          <span className="user" data-testid="user">
            {me.user}
            {role && <span className="badge role" data-testid="role"> {role}</span>}
          </span>
          <button type="button" className="secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner state={link.state} detail={link.detail} />
      <main id="main" ref={main} tabIndex={-1}>
        {me.tenants.length === 0 ? (
          <Alert kind="warning">
            You ({me.user}) have no role in any team. Your groups: {me.groups.join(", ") || "none"}. Ask an admin for a
            group such as <code>team-a:viewer</code>.
          </Alert>
        ) : (
          <Page route={route} />
        )}
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "home":
      return <Loading what="your teams" />;
    case "list":
      return <DeploymentList key={route.ns} ns={route.ns} />;
    case "new":
      return <NewDeployment key={route.ns} ns={route.ns} />;
    case "detail":
      return <DeploymentDetail key={`${route.ns}/${route.name}`} ns={route.ns} name={route.name} />;
    case "memory":
      return <MemoryView key={route.ns} ns={route.ns} />;
    case "cost":
      return <CostView />;
    case "notfound":
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to="/">Go to your deployments</Link>.
          </p>
        </>
      );
  }
}
