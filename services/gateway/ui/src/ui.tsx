// Small shared pieces: links, field errors, alerts, phase badges, the connection banner.
import type { ReactNode } from "react";
import type { UserError, LinkState } from "./api";
import { conditionHealthy, describeUserError } from "./logic";
import { useSession } from "./session";
import type { Condition } from "./types";

export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string; "aria-current"?: "page" }) {
  const { navigate } = useSession();
  return (
    <a
      href={to}
      className={className}
      aria-current={rest["aria-current"]}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** Errors of one field, announced and tied to the input with aria-describedby={id}. */
export function FieldErrors({ id, errors }: { id: string; errors?: UserError[] }) {
  if (!errors?.length) return null;
  return (
    <ul className="field-errors" id={id} role="alert">
      {errors.map((error, index) => (
        <li key={index}>{describeUserError(error)}</li>
      ))}
    </ul>
  );
}

export function Alert({ children, kind = "error" }: { children: ReactNode; kind?: "error" | "warning" | "info" | "success" }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function PhaseBadge({ phase }: { phase: string }) {
  return <span className={`badge phase-${phase.toLowerCase()}`} data-testid="phase">{phase}</span>;
}

export function Outcome({ outcome }: { outcome?: string | null }) {
  if (!outcome) return <span className="muted">–</span>;
  return <span className={`badge outcome-${outcome.toLowerCase()}`}>{outcome}</span>;
}

export function Conditions({ conditions }: { conditions: Condition[] }) {
  if (!conditions.length) return <span className="muted">none yet</span>;
  return (
    <ul className="chips" aria-label="Conditions">
      {conditions.map((c) => (
        <li key={c.type} className={conditionHealthy(c) ? "chip ok" : c.status === "Unknown" ? "chip unknown" : "chip bad"} title={[c.reason, c.message].filter(Boolean).join(": ")}>
          {c.type}={c.status}
        </li>
      ))}
    </ul>
  );
}

export function ConnectionBanner({ state, detail }: { state: LinkState; detail?: string }) {
  const text: Partial<Record<LinkState, string>> = {
    lost: "Live updates lost: reconnecting to the gateway…",
    reconnected: "Reconnected: live updates resumed.",
    refused: `Live updates refused by the gateway${detail ? ` (${detail})` : ""}. Sign in again.`,
  };
  const message = text[state];
  return (
    <div className={message ? `banner banner-${state}` : "banner-empty"} role="status" aria-live="polite" data-testid="connection-banner">
      {message ?? ""}
    </div>
  );
}

export function Table({ caption, children }: { caption: string; children: ReactNode }) {
  // Wide tables scroll inside their box on a narrow screen instead of widening the page.
  return (
    <div className="table-scroll" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        {children}
      </table>
    </div>
  );
}
