// Spend estimate of each team the user belongs to, by strategy and by cloud provider.
import { money, percent } from "../logic";
import { COSTS } from "../queries";
import { useQuery } from "../session";
import type { CostShare, CostSummary, Role } from "../types";
import { Alert, Loading, Table } from "../ui";

type Data = { me: { tenants: { namespace: string; role: Role; costSummary: CostSummary }[] } };

export function CostView() {
  const { data, error, loading } = useQuery<Data>(COSTS, {});
  return (
    <>
      <h1>Cost</h1>
      <p className="help">Estimated monthly spend of your teams, from each deployment's plan, against the CloudProviders' budgets.</p>
      {error && <Alert>Could not load the costs: {error}</Alert>}
      {loading && !data && <Loading what="costs" />}
      {data?.me.tenants.map(({ namespace, costSummary: c }) => (
        <section key={namespace} className="card" aria-labelledby={`cost-${namespace}`} data-testid={`cost-${namespace}`}>
          <h2 id={`cost-${namespace}`}>{namespace}</h2>
          <dl className="facts">
            <dt>Deployments</dt>
            <dd>{c.deploymentCount}</dd>
            <dt>Estimated monthly</dt>
            <dd>{money(c.estimatedMonthly, c.currency)}</dd>
            <dt>Spent this month</dt>
            <dd>{money(c.actualThisMonth, c.currency)}</dd>
            <dt>Budget</dt>
            <dd className={c.budgetUsed && c.budgetUsed > 1 ? "over" : undefined}>
              {c.monthlyBudget ? `${money(c.monthlyBudget, c.currency)} (${percent(c.budgetUsed)} used)` : "no budget set"}
              {c.budgetUsed !== null && c.budgetUsed !== undefined && (
                <meter min={0} max={1.2} low={0.8} high={1} optimum={0.5} value={Math.min(c.budgetUsed, 1.2)} aria-label={`${namespace} budget used`} />
              )}
            </dd>
            <dt>Over budget</dt>
            <dd>{c.overBudgetDeployments} deployment(s)</dd>
          </dl>
          <Shares title="By strategy" shares={c.byStrategy} total={c.estimatedMonthly} currency={c.currency} />
          <Shares title="By cloud provider" shares={c.byCloudProvider} total={c.estimatedMonthly} currency={c.currency} />
        </section>
      ))}
    </>
  );
}

function Shares({ title, shares, total, currency }: { title: string; shares: CostShare[]; total: number; currency: string }) {
  return (
    <>
      <h3>{title}</h3>
      {shares.length === 0 ? (
        <p className="muted">nothing yet</p>
      ) : (
        <Table caption={title}>
          <thead>
            <tr>
              <th scope="col">{title.replace("By ", "")}</th>
              <th scope="col" className="num">
                Monthly
              </th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            {shares.map((s) => (
              <tr key={s.key}>
                <th scope="row">{s.key}</th>
                <td className="num">{money(s.estimatedMonthly, currency)}</td>
                <td>
                  <meter min={0} max={1} value={total ? s.estimatedMonthly / total : 0} aria-label={`${s.key} share`} /> {percent(total ? s.estimatedMonthly / total : null)}
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </>
  );
}
