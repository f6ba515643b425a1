// Deployments of one team: a page from the API, then kept current by the subscription.
import { useEffect, useState } from "react";
import { applyLiveEvent, can, costAgainstBudget, filterRows, PHASES, routePath, STRATEGIES, type ListFilter } from "../logic";
import { DEPLOYMENTS, DEPLOYMENTS_LIVE, PAGE_SIZE } from "../queries";
import { useSession } from "../session";
import type { Row } from "../types";
import { Alert, Conditions, Link, Loading, Outcome, PhaseBadge, Table } from "../ui";

type Page = { deployments: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Row }[] } };

export function DeploymentList({ ns }: { ns: string }) {
  const session = useSession();
  const role = session.roleIn(ns);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [liveError, setLiveError] = useState<string>();
  const [filter, setFilter] = useState<ListFilter>({ text: "", phase: "", strategy: "" });

  async function load(after: string | null) {
    try {
      const data = await session.query<Page>(DEPLOYMENTS, { ns, first: PAGE_SIZE, after });
      const page = data.deployments;
      setRows((old) => [...(after ? (old ?? []) : []), ...page.edges.map((e) => e.node)]);
      setTotal(page.totalCount);
      setCursor(page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null);
      setError(undefined);
    } catch (failure) {
      setError((failure as Error).message);
    }
  }

  useEffect(() => {
    void load(null);
    return session.live.subscribe<{ deploymentUpdated: { type: string; deployment: Row } }>(
      DEPLOYMENTS_LIVE,
      { ns },
      ({ deploymentUpdated: { type, deployment } }) => {
        setRows((old) => applyLiveEvent(old ?? [], type, deployment));
        setLiveError(undefined);
      },
      setLiveError,
    );
  }, [ns]);

  const visible = rows ? filterRows(rows, filter) : [];
  return (
    <>
      <div className="page-head">
        <h1>
          Deployments of <span className="ns">{ns}</span>
        </h1>
        {can(role, "create") && (
          <Link className="button" to={routePath({ page: "new", ns })}>
            New deployment
          </Link>
        )}
      </div>
      {role === "viewer" && <p className="help">You are a viewer in {ns}: you can read and vote, not change deployments.</p>}
      {error && <Alert>Could not load the deployments: {error}</Alert>}
      {liveError && <Alert kind="warning">Live updates failed: {liveError}</Alert>}
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" value={filter.text} placeholder="name or cloud provider" onChange={(e) => setFilter({ ...filter, text: e.target.value })} />
        </label>
        <label>
          Phase
          <select value={filter.phase} onChange={(e) => setFilter({ ...filter, phase: e.target.value })}>
            <option value="">any</option>
            {PHASES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Strategy
          <select value={filter.strategy} onChange={(e) => setFilter({ ...filter, strategy: e.target.value })}>
            <option value="">any</option>
            {STRATEGIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      {rows === null && !error && <Loading what="deployments" />}
      {rows !== null && (
        <>
          <p className="muted" role="status">
            {visible.length} shown of {Math.max(total, rows.length)}
          </p>
          <Table caption={`Deployments of ${ns}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Strategy</th>
                <th scope="col">Phase</th>
                <th scope="col">Conditions</th>
                <th scope="col">Monthly cost vs budget</th>
                <th scope="col">Last outcome</th>
              </tr>
            </thead>
            <tbody>
              {visible.map((row) => {
                const cost = costAgainstBudget(row.cost?.estimatedMonthly, row.spec.budget?.maxMonthlyCost);
                return (
                  <tr key={row.name} data-testid={`row-${row.name}`}>
                    <th scope="row">
                      <Link to={routePath({ page: "detail", ns, name: row.name })}>{row.name}</Link>
                    </th>
                    <td>
                      {row.decision?.strategy ?? row.spec.strategy}
                      {row.spec.strategy !== "auto" && <span className="muted"> (chosen)</span>}
                    </td>
                    <td>
                      <PhaseBadge phase={row.phase} />
                    </td>
                    <td>
                      <Conditions conditions={row.conditions} />
                    </td>
                    <td className={cost.over ? "over" : undefined}>
                      {cost.text}
                      {cost.share !== null && <meter min={0} max={1.2} low={0.8} high={1} optimum={0.5} value={Math.min(cost.share, 1.2)} aria-label={`${row.name} cost share of budget`} />}
                    </td>
                    <td>
                      <Outcome outcome={row.status?.lastOutcome} />
                    </td>
                  </tr>
                );
              })}
              {visible.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    {rows.length === 0 ? "No deployments yet." : "Nothing matches the filter."}
                  </td>
                </tr>
              )}
            </tbody>
          </Table>
          {cursor && (
            <button type="button" className="secondary" onClick={() => void load(cursor)}>
              Load more
            </button>
          )}
        </>
      )}
    </>
  );
}
