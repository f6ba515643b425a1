// Shapes of what queries.ts selects (the schema is services/gateway/src/scia/gateway/schema.graphql).
import type { UserError } from "./api";

export type Role = "viewer" | "deployer" | "admin";
export type Tenant = { namespace: string; role: Role };
export type Me = { user: string; groups: string[]; tenants: Tenant[] };

export type Condition = { type: string; status: string; reason: string; message?: string | null; lastTransitionTime?: string | null };
export type CostItem = { name: string; description?: string | null; quantity?: number | null; unit?: string | null; unitPrice?: number | null; monthly: number };
export type Citation = { recordId?: string | null; summary?: string | null; outcome?: string | null; score?: number | null; influence?: string | null };

export type Row = {
  id: string;
  namespace: string;
  name: string;
  phase: string;
  spec: { strategy: string; cloudProvider: string; region?: string | null; budget?: { maxMonthlyCost?: number | null; enforcementMode?: string | null } | null };
  status?: { lastOutcome?: string | null; message?: string | null } | null;
  conditions: Condition[];
  decision?: { strategy?: string | null } | null;
  cost?: { estimatedMonthly?: number | null; currency?: string | null; budgetVerdict?: string | null } | null;
};

export type Revision = {
  revision: number;
  timestamp: string;
  strategy?: string | null;
  compositionName?: string | null;
  estimatedMonthlyCost?: number | null;
  outcome?: string | null;
  reason?: string | null;
};

export type KubeEvent = { type?: string | null; reason?: string | null; message?: string | null; count?: number | null; lastTimestamp?: string | null; source?: string | null };
export type Vote = { user: string; vote: number; comment?: string | null; updatedAt?: string | null };
export type FeedbackSummary = { recordId: string; revision: number; up: number; down: number; votes: Vote[] };

export type Detail = Row & {
  uid?: string | null;
  resourceVersion?: string | null;
  createdAt?: string | null;
  endpoints: string[];
  spec: Row["spec"] & {
    repository: { url: string; ref?: string | null; subdirectory?: string | null };
    prompt?: string | null;
    domainName?: string | null;
    rollbackTo?: number | null;
    paused: boolean;
    policies: string[];
    budget?: { maxMonthlyCost?: number | null; alertThreshold?: number | null; enforcementMode?: string | null } | null;
  };
  status?: { lastOutcome?: string | null; message?: string | null; observedGeneration?: number | null } | null;
  decision?: {
    strategy?: string | null;
    reason?: string | null;
    confidence?: number | null;
    engine?: string | null;
    warnings: string[];
    alternatives: { strategy: string; reason?: string | null; confidence?: number | null; estimatedMonthlyCost?: number | null }[];
    citations: Citation[];
  } | null;
  cost?: Row["cost"] & { actualThisMonth?: number | null; pricingSource?: string | null; items: CostItem[] } | null;
  history: Revision[];
  events: KubeEvent[];
  feedback?: FeedbackSummary | null;
};

export type Evidence = { file?: string | null; line?: number | null; rule?: string | null; detail?: string | null };
export type Application = {
  path?: string | null;
  name?: string | null;
  language?: string | null;
  framework?: string | null;
  confidence?: number | null;
  ports: number[];
  startCommand?: string | null;
  hasDockerfile: boolean;
  runtimeVersion?: string | null;
  dependencies: string[];
  traits: string[];
  frameworkEvidence: Evidence[];
};
export type CostEstimate = { monthlyTotal: number; pricingSource?: string | null; items: CostItem[] };
export type RenderedResource = { name: string; apiVersion: string; kind: string; manifest: unknown };

export type PlanPreview = {
  errors: UserError[];
  analysis: {
    url: string;
    ref?: string | null;
    commitSha?: string | null;
    hasCompose: boolean;
    backingServices: string[];
    fileCount: number;
    sizeBytes: number;
    warnings: string[];
    applications: Application[];
  };
  plan: {
    strategy: string;
    reason?: string | null;
    confidence: number;
    warnings: string[];
    rejected: boolean;
    rejectionReason?: string | null;
    parameters: unknown;
    alternatives: { strategy: string; reason?: string | null; confidence?: number | null; cost?: { monthlyTotal: number } | null }[];
    budget?: { status: string; budget?: number | null; estimated?: number | null; enforcement?: string | null; message?: string | null } | null;
    citations: Citation[];
    provenance?: { engine?: string | null; retrievalUsed: boolean; retrievalNote?: string | null; llmModel?: string | null; llmRejectionReason?: string | null } | null;
  };
  cost: CostEstimate;
  composition?: string | null;
  resources: RenderedResource[];
};

export type CloudProvider = { name: string; type: string; defaultRegion: string; allowedRegions: string[]; monthlyBudget?: number | null; ready: boolean };

export type ScoreComponents = {
  vectorSimilarity: number;
  textRank: number;
  fused: number;
  relevance: number;
  feedback: number;
  recency: number;
  costEfficiency: number;
  outcome: number;
};
export type PastDeployment = {
  id: string;
  name: string;
  revision: number;
  repositoryUrl?: string | null;
  framework?: string | null;
  language?: string | null;
  strategy?: string | null;
  cloud?: string | null;
  region?: string | null;
  estimatedMonthlyCost?: number | null;
  outcome?: string | null;
  outcomeReason?: string | null;
  createdAt?: string | null;
  score?: number | null;
  feedback?: { up: number; down: number } | null;
  components?: ScoreComponents | null;
};

export type CostShare = { key: string; estimatedMonthly: number };
export type CostSummary = {
  namespace: string;
  currency: string;
  deploymentCount: number;
  estimatedMonthly: number;
  actualThisMonth: number;
  monthlyBudget?: number | null;
  budgetUsed?: number | null;
  overBudgetDeployments: number;
  byStrategy: CostShare[];
  byCloudProvider: CostShare[];
};
