// The new deployment form: Preview (a dry run: analysis, plan, cost, memory, resources), then Create.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { UserError } from "../api";
import {
  can,
  checkForm,
  emptyForm,
  errorsByField,
  FORM_FIELDS,
  money,
  neededRole,
  percent,
  POLICIES,
  routePath,
  specFromForm,
  STRATEGIES,
  type DeploymentForm,
} from "../logic";
import { CLOUD_PROVIDERS, CREATE_DEPLOYMENT, PREVIEW_PLAN } from "../queries";
import { useSession } from "../session";
import type { CloudProvider, PlanPreview } from "../types";
import { Alert, FieldErrors, Outcome, Table } from "../ui";

export function NewDeployment({ ns }: { ns: string }) {
  const session = useSession();
  const role = session.roleIn(ns);
  const allowed = can(role, "create");
  const [form, setForm] = useState<DeploymentForm>(emptyForm);
  const [providers, setProviders] = useState<CloudProvider[]>([]);
  const [errors, setErrors] = useState<UserError[]>([]);
  const [failure, setFailure] = useState<string>();
  const [preview, setPreview] = useState<{ result: PlanPreview; spec: string } | null>(null);
  const [busy, setBusy] = useState<"" | "preview" | "create">("");

  useEffect(() => {
    session
      .query<{ cloudProviders: CloudProvider[] }>(CLOUD_PROVIDERS, { ns })
      .then(({ cloudProviders }) => {
        setProviders(cloudProviders);
        const first = cloudProviders[0];
        if (first) setForm((f) => (f.cloudProvider ? f : { ...f, cloudProvider: first.name, region: first.defaultRegion }));
      })
      .catch((e: Error) => setFailure(`Could not load the cloud providers: ${e.message}`));
  }, [ns]);

  const provider = providers.find((p) => p.name === form.cloudProvider);
  const byField = errorsByField(errors, FORM_FIELDS);
  const specKey = JSON.stringify(specFromForm(form));
  const previewCurrent = preview !== null && preview.spec === specKey;

  function set<K extends keyof DeploymentForm>(key: K, value: DeploymentForm[K]) {
    setForm((f) => ({ ...f, [key]: value }));
  }

  async function runPreview(event: FormEvent) {
    event.preventDefault();
    const local = checkForm(form, false);
    setErrors(local);
    setFailure(undefined);
    if (local.length) return;
    setBusy("preview");
    try {
      const data = await session.query<{ previewPlan: PlanPreview }>(PREVIEW_PLAN, { ns, spec: specFromForm(form) });
      setPreview({ result: data.previewPlan, spec: specKey });
      setErrors(data.previewPlan.errors);
    } catch (e) {
      setFailure((e as Error).message);
    } finally {
      setBusy("");
    }
  }

  async function create() {
    const local = checkForm(form, true);
    setErrors(local);
    setFailure(undefined);
    if (local.length) return;
    setBusy("create");
    try {
      const data = await session.query<{ createDeployment: { deployment: { name: string } | null; errors: UserError[] } }>(CREATE_DEPLOYMENT, {
        ns,
        name: form.name,
        spec: specFromForm(form),
      });
      const { deployment, errors: refused } = data.createDeployment;
      if (refused.length) setErrors(refused);
      else if (deployment) session.navigate(routePath({ page: "detail", ns, name: deployment.name }));
    } catch (e) {
      setFailure((e as Error).message);
    } finally {
      setBusy("");
    }
  }

  const field = (key: string, label: string, input: (props: InputProps) => ReactNode, help?: string) => {
    const id = `f-${key.replace(/\./g, "-")}`;
    const errs = byField.get(key);
    const describedBy = [errs?.length ? `${id}-errors` : "", help ? `${id}-help` : ""].filter(Boolean).join(" ") || undefined;
    return (
      <div className="field">
        <label htmlFor={id}>{label}</label>
        {input({ id, "aria-invalid": errs?.length ? true : undefined, "aria-describedby": describedBy })}
        {help && (
          <p className="help" id={`${id}-help`}>
            {help}
          </p>
        )}
        <FieldErrors id={`${id}-errors`} errors={errs} />
      </div>
    );
  };

  return (
    <>
      <h1>
        New deployment in <span className="ns">{ns}</span>
      </h1>
      {!allowed && (
        <Alert kind="warning">
          Your role in {ns} is {role ?? "none"}: creating a deployment needs the {neededRole("create")} role.
        </Alert>
      )}
      {failure && <Alert>{failure}</Alert>}
      <form className="deploy-form" onSubmit={runPreview} noValidate aria-label="New deployment">
        <fieldset disabled={!allowed || busy !== ""}>
          <legend>Application</legend>
          {field("name", "Name", (p) => <input {...p} value={form.name} onChange={(e) => set("name", e.target.value)} autoComplete="off" />, "Lowercase letters, digits and '-'; it names the cloud resources.")}
          {field("repository.url", "Repository URL", (p) => <input {...p} value={form.url} onChange={(e) => set("url", e.target.value)} placeholder="https://github.com/org/app.git" autoComplete="off" />)}
          <div className="row">
            {field("repository.ref", "Ref (branch, tag or commit)", (p) => <input {...p} value={form.ref} onChange={(e) => set("ref", e.target.value)} placeholder="main" />)}
            {field("repository.subdirectory", "Subdirectory", (p) => <input {...p} value={form.subdirectory} onChange={(e) => set("subdirectory", e.target.value)} placeholder="(repository root)" />)}
          </div>
          {field("prompt", "What do you need?", (p) => <textarea {...p} rows={3} value={form.prompt} onChange={(e) => set("prompt", e.target.value)} placeholder="Flask API with high availability, under $300/month in eu-west-3" />)}
        </fieldset>
        <fieldset disabled={!allowed || busy !== ""}>
          <legend>Where</legend>
          <div className="row">
            {field("cloudProvider", "Cloud provider", (p) => (
              <select
                {...p}
                value={form.cloudProvider}
                onChange={(e) => {
                  const next = providers.find((x) => x.name === e.target.value);
                  setForm((f) => ({ ...f, cloudProvider: e.target.value, region: next?.defaultRegion ?? "" }));
                }}
              >
                {providers.length === 0 && <option value="">no cloud provider in {ns}</option>}
                {providers.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.name} ({x.type}){x.ready ? "" : " – not ready"}
                  </option>
                ))}
              </select>
            ))}
            {field("region", "Region", (p) => (
              <select {...p} value={form.region} onChange={(e) => set("region", e.target.value)}>
                <option value="">provider default{provider ? ` (${provider.defaultRegion})` : ""}</option>
                {(provider?.allowedRegions.length ? provider.allowedRegions : provider ? [provider.defaultRegion] : []).map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            ))}
          </div>
          {field("domainName", "Domain name", (p) => <input {...p} value={form.domainName} onChange={(e) => set("domainName", e.target.value)} placeholder="shop.example.com" />, "Needed for HTTPS (the certificate's name).")}
        </fieldset>
        <fieldset disabled={!allowed || busy !== ""}>
          <legend>Budget</legend>
          <div className="row">
            {field("budget.maxMonthlyCost", "Monthly budget (USD)", (p) => <input {...p} inputMode="decimal" value={form.maxMonthlyCost} onChange={(e) => set("maxMonthlyCost", e.target.value)} placeholder="300" />, provider?.monthlyBudget ? `The team's budget on ${provider.name} is ${money(provider.monthlyBudget)}.` : undefined)}
            {field("budget.alertThreshold", "Alert at (share of budget)", (p) => <input {...p} inputMode="decimal" value={form.alertThreshold} onChange={(e) => set("alertThreshold", e.target.value)} />)}
          </div>
          <fieldset className="inline" aria-describedby="enforcement-help">
            <legend>Enforcement</legend>
            {(["soft", "hard"] as const).map((mode) => (
              <label key={mode} className="check">
                <input type="radio" name="enforcement" value={mode} checked={form.enforcementMode === mode} onChange={() => set("enforcementMode", mode)} />
                {mode}
              </label>
            ))}
            <p className="help" id="enforcement-help">
              soft: warn when over budget; hard: refuse a plan over budget.
            </p>
            <FieldErrors id="f-budget-enforcementMode-errors" errors={byField.get("budget.enforcementMode")} />
          </fieldset>
        </fieldset>
        <fieldset disabled={!allowed || busy !== ""}>
          <legend>Policies and strategy</legend>
          <fieldset className="inline">
            <legend>Policies</legend>
            {POLICIES.map((policy) => (
              <label key={policy} className="check">
                <input
                  type="checkbox"
                  checked={form.policies.includes(policy)}
                  onChange={(e) => set("policies", e.target.checked ? [...form.policies, policy] : form.policies.filter((x) => x !== policy))}
                />
                {policy.replace(/_/g, " ")}
              </label>
            ))}
            <FieldErrors id="f-policies-errors" errors={byField.get("policies")} />
          </fieldset>
          {field("strategy", "Strategy", (p) => (
            <select {...p} value={form.strategy} onChange={(e) => set("strategy", e.target.value)}>
              {STRATEGIES.map((s) => (
                <option key={s} value={s}>
                  {s === "auto" ? "auto (let SCIA choose)" : s}
                </option>
              ))}
            </select>
          ))}
        </fieldset>
        <div className="actions">
          <button type="submit" disabled={!allowed || busy !== ""}>
            {busy === "preview" ? "Planning… (clones and analyses the repository)" : "Preview plan"}
          </button>
          <button type="button" onClick={() => void create()} disabled={!allowed || busy !== "" || !previewCurrent} aria-describedby="create-help">
            {busy === "create" ? "Creating…" : "Create deployment"}
          </button>
          <p className="help" id="create-help">
            {previewCurrent ? "The preview below matches the form." : "Preview first: Create is enabled once the preview matches the form."}
          </p>
          <FieldErrors id="form-errors" errors={byField.get("")} />
        </div>
      </form>
      {preview && (
        <section aria-labelledby="preview-title" className={previewCurrent ? "preview" : "preview stale"}>
          <h2 id="preview-title">Preview {previewCurrent ? "" : "(out of date: the form changed)"}</h2>
          <PreviewView preview={preview.result} />
        </section>
      )}
    </>
  );
}

type InputProps = { id: string; "aria-invalid"?: boolean; "aria-describedby"?: string };

/** Everything previewPlan returns, in reading order: analysis, plan, cost, memory, resources. */
export function PreviewView({ preview }: { preview: PlanPreview }) {
  const { analysis, plan, cost } = preview;
  return (
    <div className="preview-body">
      {plan.rejected && <Alert>This plan would be refused: {plan.rejectionReason ?? "see the budget verdict"}</Alert>}
      {preview.errors.length > 0 && (
        <Alert kind="warning">
          Creating this deployment would fail: {preview.errors.map((e) => `${e.message} (${e.code})`).join("; ")}
        </Alert>
      )}
      <section aria-labelledby="analysis-title">
        <h3 id="analysis-title">Repository analysis</h3>
        <p>
          {analysis.url}
          {analysis.ref ? ` @ ${analysis.ref}` : ""}
          {analysis.commitSha ? ` (commit ${analysis.commitSha.slice(0, 12)})` : ""}: {analysis.fileCount} files,{" "}
          {(analysis.sizeBytes / 1024).toFixed(0)} KiB{analysis.hasCompose ? ", docker compose file" : ""}.
        </p>
        <p>
          Backing services: {analysis.backingServices.length ? analysis.backingServices.join(", ") : "none found"}
        </p>
        {analysis.applications.map((app, index) => (
          <div key={index} className="card" data-testid="application">
            <h4>
              {app.name || app.path || "application"}: {app.language}/{app.framework || "no framework"}
              {app.confidence !== null && app.confidence !== undefined && <span className="muted"> (confidence {percent(app.confidence)})</span>}
            </h4>
            <dl className="facts">
              <dt>Ports</dt>
              <dd>{app.ports.join(", ") || "–"}</dd>
              <dt>Start</dt>
              <dd>
                <code>{app.startCommand || "–"}</code>
              </dd>
              <dt>Runtime</dt>
              <dd>{app.runtimeVersion || "–"}</dd>
              <dt>Dockerfile</dt>
              <dd>{app.hasDockerfile ? "yes" : "no"}</dd>
              <dt>Traits</dt>
              <dd>{app.traits.join(", ") || "–"}</dd>
              <dt>Dependencies</dt>
              <dd>{app.dependencies.slice(0, 20).join(", ") || "–"}{app.dependencies.length > 20 ? ` … (${app.dependencies.length})` : ""}</dd>
            </dl>
            <h5>Evidence</h5>
            <ul className="evidence" data-testid="evidence">
              {app.frameworkEvidence.map((e, i) => (
                <li key={i}>
                  <code>
                    {e.file}
                    {e.line ? `:${e.line}` : ""}
                  </code>{" "}
                  {e.rule && <span className="badge">{e.rule}</span>} {e.detail}
                </li>
              ))}
              {app.frameworkEvidence.length === 0 && <li className="muted">no evidence recorded</li>}
            </ul>
          </div>
        ))}
        {analysis.warnings.map((w, i) => (
          <Alert key={i} kind="warning">
            {w}
          </Alert>
        ))}
      </section>
      <section aria-labelledby="plan-title">
        <h3 id="plan-title">Plan</h3>
        <p className="plan-line" data-testid="plan">
          <strong>{plan.strategy}</strong>, confidence {percent(plan.confidence)}
          {plan.provenance?.engine && <span className="muted"> (engine {plan.provenance.engine})</span>}
        </p>
        <p data-testid="plan-reason">{plan.reason}</p>
        {plan.warnings.map((w, i) => (
          <Alert key={i} kind="warning">
            {w}
          </Alert>
        ))}
        <h4>Alternatives</h4>
        <ul data-testid="alternatives">
          {plan.alternatives.map((alt, i) => (
            <li key={i}>
              <strong>{alt.strategy}</strong> (confidence {percent(alt.confidence)}
              {alt.cost ? `, ${money(alt.cost.monthlyTotal)}/month` : ""}): {alt.reason}
            </li>
          ))}
          {plan.alternatives.length === 0 && <li className="muted">none</li>}
        </ul>
        <details>
          <summary>Infrastructure parameters</summary>
          <pre>{JSON.stringify(plan.parameters, null, 2)}</pre>
        </details>
      </section>
      <section aria-labelledby="cost-title">
        <h3 id="cost-title">Cost</h3>
        <CostTable items={cost.items} total={cost.monthlyTotal} caption="Itemised monthly cost" />
        {cost.pricingSource && <p className="muted">Prices: {cost.pricingSource}</p>}
        {plan.budget && (
          <div className={`verdict verdict-${plan.budget.status.toLowerCase()}`} data-testid="budget-verdict">
            <strong>Budget: {plan.budget.status}</strong>
            {plan.budget.enforcement ? ` (${plan.budget.enforcement} enforcement)` : ""} – {plan.budget.message}
          </div>
        )}
      </section>
      <section aria-labelledby="memory-title">
        <h3 id="memory-title">What the memory contributed</h3>
        {plan.provenance?.retrievalNote && <p>{plan.provenance.retrievalNote}</p>}
        <Citations citations={plan.citations} />
      </section>
      {preview.resources.length > 0 && (
        <section aria-labelledby="resources-title">
          <h3 id="resources-title">Cloud resources that will be created</h3>
          <p>
            {preview.resources.length} resources{preview.composition ? ` from composition ${preview.composition}` : ""}.
          </p>
          <Table caption="Cloud resources">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">API version</th>
                <th scope="col">Manifest</th>
              </tr>
            </thead>
            <tbody data-testid="resources">
              {preview.resources.map((r) => (
                <tr key={`${r.kind}/${r.name}`}>
                  <th scope="row">{r.name}</th>
                  <td>{r.kind}</td>
                  <td>{r.apiVersion}</td>
                  <td>
                    <details>
                      <summary>show</summary>
                      <pre>{JSON.stringify(r.manifest, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        </section>
      )}
    </div>
  );
}

export function CostTable({ items, total, caption }: { items: PlanPreview["cost"]["items"]; total?: number | null; caption: string }) {
  return (
    <Table caption={caption}>
      <thead>
        <tr>
          <th scope="col">Item</th>
          <th scope="col">Quantity</th>
          <th scope="col">Unit price</th>
          <th scope="col" className="num">
            Monthly
          </th>
        </tr>
      </thead>
      <tbody data-testid="cost-items">
        {items.map((item, i) => (
          <tr key={i}>
            <th scope="row">
              {item.name}
              {item.description && <div className="muted small">{item.description}</div>}
            </th>
            <td>
              {item.quantity ?? "–"} {item.unit ?? ""}
            </td>
            <td>{item.unitPrice !== null && item.unitPrice !== undefined ? money(item.unitPrice) : "–"}</td>
            <td className="num">{money(item.monthly)}</td>
          </tr>
        ))}
      </tbody>
      {total !== undefined && (
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total per month
            </th>
            <td className="num" data-testid="cost-total">
              {money(total)}
            </td>
          </tr>
        </tfoot>
      )}
    </Table>
  );
}

export function Citations({ citations }: { citations: PlanPreview["plan"]["citations"] }) {
  if (!citations.length) return <p className="muted">No past deployment influenced this plan.</p>;
  return (
    <ul className="citations" data-testid="citations">
      {citations.map((c, i) => (
        <li key={i}>
          {c.summary} <Outcome outcome={c.outcome} />{" "}
          {c.score !== null && c.score !== undefined && <span className="muted">score {c.score.toFixed(3)}</span>}
          {c.influence && <div className="small">→ {c.influence}</div>}
        </li>
      ))}
    </ul>
  );
}
