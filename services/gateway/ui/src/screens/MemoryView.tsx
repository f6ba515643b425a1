// Search the deployment memory (free text, or "like this deployment"), filter, and see why each matched.
import { useState, type FormEvent } from "react";
import { money, STRATEGIES, when } from "../logic";
import { SIMILAR } from "../queries";
import { useSession } from "../session";
import type { PastDeployment, ScoreComponents } from "../types";
import { Alert, FieldErrors, Outcome, Table } from "../ui";

type Result = { reranker: string; fullTextOnly: boolean; notes: string[]; results: PastDeployment[] };

const COMPONENTS: [keyof ScoreComponents, string][] = [
  ["vectorSimilarity", "meaning (vector similarity)"],
  ["textRank", "words (full-text rank)"],
  ["fused", "fused rank"],
  ["relevance", "relevance"],
  ["feedback", "feedback"],
  ["recency", "recency"],
  ["costEfficiency", "cost efficiency"],
  ["outcome", "outcome"],
];
const OUTCOMES = ["Success", "Failed", "Degraded", "Deleted", "Pending"];

export function MemoryView({ ns }: { ns: string }) {
  const session = useSession();
  const [text, setText] = useState("");
  const [like, setLike] = useState("");
  const [limit, setLimit] = useState("10");
  const [outcome, setOutcome] = useState("");
  const [strategy, setStrategy] = useState("");
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function search(event: FormEvent) {
    event.preventDefault();
    if (!text.trim() === !like.trim()) {
      setError("Give either words to search for or the name of a deployment, not both.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const data = await session.query<{ similarDeployments: Result }>(SIMILAR, {
        ns,
        text: text.trim() || null,
        deployment: like.trim() || null,
        limit: Number(limit),
      });
      setResult(data.similarDeployments);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const shown = (result?.results ?? []).filter((r) => (!outcome || r.outcome === outcome) && (!strategy || r.strategy === strategy));
  return (
    <>
      <h1>
        Memory of <span className="ns">{ns}</span>
      </h1>
      <p className="help">Past deployments SCIA remembers, with their outcomes and feedback. Plans are built on the closest ones.</p>
      <form className="filters" role="search" onSubmit={search} aria-label="Search the memory">
        <label>
          Words
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="flask api with postgres" aria-describedby={error ? "memory-errors" : undefined} />
        </label>
        <label>
          or like deployment
          <input value={like} onChange={(e) => setLike(e.target.value)} placeholder="flask-shop" />
        </label>
        <label>
          At most
          <select value={limit} onChange={(e) => setLimit(e.target.value)}>
            {["5", "10", "20"].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          Outcome
          <select value={outcome} onChange={(e) => setOutcome(e.target.value)}>
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </label>
        <label>
          Strategy
          <select value={strategy} onChange={(e) => setStrategy(e.target.value)}>
            <option value="">any</option>
            {STRATEGIES.filter((s) => s !== "auto").map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Searching…" : "Search"}
        </button>
      </form>
      {error && <FieldErrors id="memory-errors" errors={[{ code: "VALIDATION", field: [], message: error }]} />}
      {result && (
        <>
          <p className="muted" role="status">
            {shown.length} of {result.results.length} result(s); re-ranked by {result.reranker}
            {result.fullTextOnly ? "; words only (the embedder was unavailable)" : ""}.
          </p>
          {result.notes.map((n, i) => (
            <Alert key={i} kind="info">
              {n}
            </Alert>
          ))}
          <ol className="results" data-testid="memory-results">
            {shown.map((r) => (
              <li key={r.id} className="card">
                <h2 className="h3">
                  {r.name} rev {r.revision} <Outcome outcome={r.outcome} />{" "}
                  <span className="score">score {r.score !== null && r.score !== undefined ? r.score.toFixed(3) : "–"}</span>
                </h2>
                <p>
                  {[r.language && `${r.language}/${r.framework ?? "?"}`, r.strategy, r.cloud && `${r.cloud} ${r.region ?? ""}`, r.estimatedMonthlyCost ? `${money(r.estimatedMonthlyCost)}/month` : null]
                    .filter(Boolean)
                    .join(" · ")}
                  {r.feedback && ` · ${r.feedback.up} up, ${r.feedback.down} down`} · {when(r.createdAt)}
                </p>
                {r.outcomeReason && <p className="small">{r.outcomeReason}</p>}
                {r.components && (
                  <Table caption={`Why ${r.name} rev ${r.revision} matched`}>
                    <thead>
                      <tr>
                        {COMPONENTS.map(([key, label]) => (
                          <th scope="col" key={key} className="score-head">
                            {label}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      <tr>
                        {COMPONENTS.map(([key, label]) => (
                          <td key={key}>
                            <meter min={0} max={1} value={Math.max(0, Math.min(1, r.components![key]))} aria-label={`${r.name} rev ${r.revision}: ${label}`} /> {r.components![key].toFixed(3)}
                          </td>
                        ))}
                      </tr>
                    </tbody>
                  </Table>
                )}
              </li>
            ))}
          </ol>
          {shown.length === 0 && <p className="muted">Nothing remembered matches.</p>}
        </>
      )}
      <p className="muted small">Every score is in [0, 1]; 1.000 is a perfect match on that component.</p>
    </>
  );
}
