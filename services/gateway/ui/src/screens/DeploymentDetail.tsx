// One deployment, live: phases, conditions and events as the operator reconciles; drift;
// endpoints; revisions with rollback; delete; thumbs up/down that reach the memory.
import { useEffect, useState } from "react";
import type { UserError } from "../api";
import { can, costAgainstBudget, drift, money, neededRole, notePhase, percent, routePath, timeline, when } from "../logic";
import { DELETE_DEPLOYMENT, DEPLOYMENT, DEPLOYMENT_LIVE, FEEDBACK, ROLLBACK } from "../queries";
import { useSession } from "../session";
import type { Detail, FeedbackSummary } from "../types";
import { Alert, Conditions, FieldErrors, Link, Loading, Outcome, PhaseBadge, Table } from "../ui";
import { Citations, CostTable } from "./NewDeployment";

type Phases = { phase: string; at: string }[];

export function DeploymentDetail({ ns, name }: { ns: string; name: string }) {
  const session = useSession();
  const role = session.roleIn(ns);
  const [deployment, setDeployment] = useState<Detail | null | undefined>(undefined);
  const [deleted, setDeleted] = useState(false);
  const [phases, setPhases] = useState<Phases>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    const seen = (d: Detail) => setPhases((p) => notePhase(p, d.phase, new Date().toISOString()));
    session
      .query<{ deployment: Detail | null }>(DEPLOYMENT, { ns, name })
      .then(({ deployment: d }) => {
        setDeployment((current) => current ?? d);
        if (d) seen(d);
      })
      .catch((e: Error) => setError(e.message));
    return session.live.subscribe<{ deploymentUpdated: { type: string; deployment: Detail } }>(
      DEPLOYMENT_LIVE,
      { ns, name },
      ({ deploymentUpdated: { type, deployment: d } }) => {
        if (type === "DELETED") {
          setDeleted(true);
          return;
        }
        setDeleted(false);
        setDeployment(d);
        seen(d);
      },
      (message) => setError(`Live updates failed: ${message}`),
    );
  }, [ns, name]);

  if (error && deployment === undefined) return <Alert>Could not load {name}: {error}</Alert>;
  if (deployment === undefined) return <Loading what={name} />;
  if (deployment === null)
    return (
      <>
        <h1>{name}</h1>
        <Alert kind="warning">
          There is no deployment {name} in {ns} (or you may not see it). <Link to={routePath({ page: "list", ns })}>Back to the list</Link>
        </Alert>
      </>
    );

  const d = deployment;
  const drifted = drift(d.conditions);
  const cost = costAgainstBudget(d.cost?.estimatedMonthly, d.spec.budget?.maxMonthlyCost);
  return (
    <>
      <p className="crumbs">
        <Link to={routePath({ page: "list", ns })}>{ns}</Link> /
      </p>
      <div className="page-head">
        <h1>{d.name}</h1>
        <PhaseBadge phase={d.phase} />
      </div>
      {deleted && <Alert kind="info">This deployment has been deleted; its infrastructure is being torn down.</Alert>}
      {error && <Alert kind="warning">{error}</Alert>}
      {drifted && (
        <Alert kind="warning">
          <strong>Drift detected:</strong> {drifted.reason}
          {drifted.message ? `: ${drifted.message}` : ""} (since {when(drifted.lastTransitionTime)}). The operator repairs it.
        </Alert>
      )}
      {d.status?.message && <p className="status-message">{d.status.message}</p>}

      <section aria-labelledby="live-title">
        <h2 id="live-title">Live status</h2>
        <ol className="phase-trail" aria-label="Phases seen" data-testid="phase-trail">
          {phases.map((p, i) => (
            <li key={i}>
              <PhaseBadge phase={p.phase} />
            </li>
          ))}
        </ol>
        <Conditions conditions={d.conditions} />
        <h3>Timeline</h3>
        <ol className="timeline" data-testid="timeline">
          {timeline(d, phases).map((entry, i) => (
            <li key={i} className={entry.warning ? "warn" : undefined}>
              <time dateTime={entry.at}>{when(entry.at)}</time> <span className={`kind kind-${entry.kind}`}>{entry.kind}</span> <strong>{entry.title}</strong>
              {entry.detail && <span> – {entry.detail}</span>}
            </li>
          ))}
        </ol>
      </section>

      <section aria-labelledby="summary-title">
        <h2 id="summary-title">Summary</h2>
        <dl className="facts">
          <dt>Repository</dt>
          <dd>
            <code>{d.spec.repository.url}</code>
            {d.spec.repository.ref && ` @ ${d.spec.repository.ref}`}
            {d.spec.repository.subdirectory && ` (${d.spec.repository.subdirectory})`}
          </dd>
          {d.spec.prompt && (
            <>
              <dt>Prompt</dt>
              <dd>{d.spec.prompt}</dd>
            </>
          )}
          <dt>Cloud</dt>
          <dd>
            {d.spec.cloudProvider}
            {d.spec.region && `, ${d.spec.region}`}
          </dd>
          <dt>Strategy</dt>
          <dd>
            {d.decision?.strategy ?? "not decided yet"} {d.spec.strategy !== "auto" && <span className="muted">(asked: {d.spec.strategy})</span>}
            {d.decision?.confidence !== null && d.decision?.confidence !== undefined && <span className="muted"> confidence {percent(d.decision.confidence)}</span>}
          </dd>
          <dt>Cost</dt>
          <dd className={cost.over ? "over" : undefined}>
            {cost.text} per month{d.cost?.budgetVerdict ? ` – ${d.cost.budgetVerdict}` : ""}
            {d.cost?.actualThisMonth ? `; ${money(d.cost.actualThisMonth)} spent this month` : ""}
          </dd>
          <dt>Policies</dt>
          <dd>{d.spec.policies.join(", ") || "none"}</dd>
          <dt>Endpoints</dt>
          <dd data-testid="endpoints">
            {d.endpoints.length ? (
              <ul>
                {d.endpoints.map((e) => (
                  <li key={e}>
                    <code>{e}</code>
                  </li>
                ))}
              </ul>
            ) : (
              <span className="muted">none yet</span>
            )}
          </dd>
          <dt>Last outcome</dt>
          <dd>
            <Outcome outcome={d.status?.lastOutcome} />
          </dd>
        </dl>
        {d.decision?.reason && (
          <>
            <h3>Why this plan</h3>
            <p>{d.decision.reason}</p>
            {d.decision.alternatives.length > 0 && (
              <ul>
                {d.decision.alternatives.map((a, i) => (
                  <li key={i}>
                    instead <strong>{a.strategy}</strong> (confidence {percent(a.confidence)}
                    {a.estimatedMonthlyCost ? `, ${money(a.estimatedMonthlyCost)}/month` : ""}): {a.reason}
                  </li>
                ))}
              </ul>
            )}
            <Citations citations={d.decision.citations} />
          </>
        )}
        {d.cost && d.cost.items.length > 0 && <CostTable items={d.cost.items} total={d.cost.estimatedMonthly} caption="Monthly cost by item" />}
      </section>

      <History deployment={d} canRollback={can(role, "rollback") && !deleted} />
      <FeedbackBox deployment={d} onStored={(feedback) => setDeployment({ ...d, feedback })} />
      <DeleteBox deployment={d} allowed={can(role, "delete") && !deleted} onDeleted={() => setDeleted(true)} />
      {!can(role, "rollback") && (
        <p className="help">
          Your role in {ns} is {role}: rollback and delete need the {neededRole("delete")} role.
        </p>
      )}
    </>
  );
}

function History({ deployment: d, canRollback }: { deployment: Detail; canRollback: boolean }) {
  const session = useSession();
  const [confirm, setConfirm] = useState<number | null>(null);
  const [errors, setErrors] = useState<UserError[]>([]);
  const [done, setDone] = useState<string>();
  const latest = d.history.length ? d.history[d.history.length - 1].revision : null;

  async function rollback(revision: number) {
    setErrors([]);
    setDone(undefined);
    try {
      const data = await session.query<{ rollbackDeployment: { errors: UserError[] } }>(ROLLBACK, { ns: d.namespace, name: d.name, revision });
      if (data.rollbackDeployment.errors.length) setErrors(data.rollbackDeployment.errors);
      else setDone(`Rolling back to revision ${revision}: the operator re-applies its parameters.`);
    } catch (e) {
      setErrors([{ code: "UNAVAILABLE", field: [], message: (e as Error).message }]);
    } finally {
      setConfirm(null);
    }
  }

  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">Revisions</h2>
      {d.spec.rollbackTo ? <p>Rollback to revision {d.spec.rollbackTo} requested.</p> : null}
      {done && <Alert kind="success">{done}</Alert>}
      <FieldErrors id="rollback-errors" errors={errors} />
      {d.history.length === 0 ? (
        <p className="muted">No revision applied yet.</p>
      ) : (
        <Table caption="Revision history">
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">Applied</th>
              <th scope="col">Strategy</th>
              <th scope="col">Composition</th>
              <th scope="col" className="num">
                Monthly
              </th>
              <th scope="col">Outcome</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody data-testid="history">
            {[...d.history].reverse().map((r) => (
              <tr key={r.revision}>
                <th scope="row">{r.revision}</th>
                <td>{when(r.timestamp)}</td>
                <td>{r.strategy ?? "–"}</td>
                <td>{r.compositionName ?? "–"}</td>
                <td className="num">{money(r.estimatedMonthlyCost)}</td>
                <td>
                  <Outcome outcome={r.outcome} />
                  {r.reason && <div className="small muted">{r.reason}</div>}
                </td>
                <td>
                  {r.revision === latest ? (
                    <span className="muted">current</span>
                  ) : !canRollback ? (
                    <span className="muted">–</span>
                  ) : confirm === r.revision ? (
                    <span className="confirm">
                      <button type="button" className="danger" onClick={() => void rollback(r.revision)}>
                        Confirm rollback to {r.revision}
                      </button>{" "}
                      <button type="button" className="secondary" onClick={() => setConfirm(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" className="secondary" onClick={() => setConfirm(r.revision)}>
                      Roll back to {r.revision}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </section>
  );
}

function FeedbackBox({ deployment: d, onStored }: { deployment: Detail; onStored: (feedback: FeedbackSummary) => void }) {
  const session = useSession();
  const role = session.roleIn(d.namespace);
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<UserError[]>([]);
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  const mine = d.feedback?.votes.find((v) => v.user === session.me.user);

  async function vote(value: 1 | -1) {
    setBusy(true);
    setErrors([]);
    setSaved(undefined);
    try {
      const data = await session.query<{ provideFeedback: { feedback: FeedbackSummary | null; errors: UserError[] } }>(FEEDBACK, {
        ns: d.namespace,
        name: d.name,
        vote: value,
        comment: comment.trim() || null,
      });
      const { feedback, errors: refused } = data.provideFeedback;
      if (refused.length) setErrors(refused);
      else if (feedback) {
        onStored(feedback);
        setSaved(`Your ${value > 0 ? "thumbs up" : "thumbs down"} on revision ${feedback.revision} is stored in the memory.`);
        setComment("");
      }
    } catch (e) {
      setErrors([{ code: "UNAVAILABLE", field: [], message: (e as Error).message }]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="feedback-title">
      <h2 id="feedback-title">Feedback</h2>
      <p>
        Did this deployment turn out well? Votes and comments reach SCIA's memory and change future plans.
        {d.feedback ? (
          <span data-testid="feedback-counts">
            {" "}
            Revision {d.feedback.revision}: {d.feedback.up} up, {d.feedback.down} down.
          </span>
        ) : (
          <span className="muted"> The memory has no revision of it yet (it records one once the deployment has an outcome).</span>
        )}
      </p>
      {d.feedback && d.feedback.votes.length > 0 && (
        <ul className="votes" data-testid="votes">
          {d.feedback.votes.map((v) => (
            <li key={v.user}>
              <span aria-hidden="true">{v.vote > 0 ? "▲" : "▼"}</span> <strong>{v.user}</strong> ({v.vote > 0 ? "up" : "down"}){v.comment ? `: ${v.comment}` : ""}{" "}
              <span className="muted small">{when(v.updatedAt)}</span>
            </li>
          ))}
        </ul>
      )}
      {can(role, "feedback") && (
        <div className="feedback-form">
          <label htmlFor="feedback-comment">Comment (optional)</label>
          <textarea id="feedback-comment" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} aria-describedby={errors.length ? "feedback-errors" : undefined} />
          <div className="actions">
            <button type="button" onClick={() => void vote(1)} disabled={busy} aria-pressed={mine ? mine.vote > 0 : undefined}>
              <span aria-hidden="true">▲</span> Thumbs up
            </button>
            <button type="button" onClick={() => void vote(-1)} disabled={busy} aria-pressed={mine ? mine.vote < 0 : undefined}>
              <span aria-hidden="true">▼</span> Thumbs down
            </button>
          </div>
          {saved && <Alert kind="success">{saved}</Alert>}
          <FieldErrors id="feedback-errors" errors={errors} />
        </div>
      )}
    </section>
  );
}

function DeleteBox({ deployment: d, allowed, onDeleted }: { deployment: Detail; allowed: boolean; onDeleted: () => void }) {
  const session = useSession();
  const [confirming, setConfirming] = useState(false);
  const [errors, setErrors] = useState<UserError[]>([]);
  if (!allowed) return null;

  async function remove() {
    setErrors([]);
    try {
      const data = await session.query<{ deleteDeployment: { deleted: boolean; errors: UserError[] } }>(DELETE_DEPLOYMENT, { ns: d.namespace, name: d.name });
      if (data.deleteDeployment.errors.length) setErrors(data.deleteDeployment.errors);
      else if (data.deleteDeployment.deleted) onDeleted();
    } catch (e) {
      setErrors([{ code: "UNAVAILABLE", field: [], message: (e as Error).message }]);
    } finally {
      setConfirming(false);
    }
  }

  return (
    <section aria-labelledby="danger-title" className="danger-zone">
      <h2 id="danger-title">Delete</h2>
      {confirming ? (
        <div role="group" aria-label="Confirm deletion">
          <p>
            Delete <strong>{d.name}</strong>? The operator tears its infrastructure down; this cannot be undone.
          </p>
          <button type="button" className="danger" onClick={() => void remove()}>
            Yes, delete {d.name}
          </button>{" "}
          <button type="button" className="secondary" onClick={() => setConfirming(false)} autoFocus>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete deployment
        </button>
      )}
      <FieldErrors id="delete-errors" errors={errors} />
    </section>
  );
}
