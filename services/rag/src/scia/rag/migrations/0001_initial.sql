-- SCIA deployment memory: one row per deployment revision, votes beside it.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE deployments (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    name text NOT NULL,
    uid text NOT NULL,
    revision bigint NOT NULL,
    repo_url text NOT NULL DEFAULT '',
    repo_commit text NOT NULL DEFAULT '',
    -- Lower-cased, so filters compare without case folding at query time.
    language text NOT NULL DEFAULT '',
    framework text NOT NULL DEFAULT '',
    -- scia.v1 enum numbers (Strategy, Cloud, Outcome): stable by the contracts' rules.
    strategy smallint NOT NULL DEFAULT 0,
    cloud smallint NOT NULL DEFAULT 0,
    region text NOT NULL DEFAULT '',
    estimated_monthly_cost_usd double precision NOT NULL DEFAULT 0,
    outcome smallint NOT NULL DEFAULT 1,
    outcome_reason text NOT NULL DEFAULT '',
    metrics jsonb,
    -- The DeploymentRecord as protobuf JSON, without the fields owned by the columns above and
    -- by the server (id, tenant, outcome, reason, metrics, feedback, timestamps).
    record jsonb NOT NULL,
    embedded_text text NOT NULL,
    embedding vector(384) NOT NULL,
    -- Vectors of different models are not comparable: vector search only uses the current model's.
    embedding_model text NOT NULL,
    -- The text changed (outcome update while the embedder was down): re-embed in the background.
    embedding_stale boolean NOT NULL DEFAULT false,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, embedded_text)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    outcome_at timestamptz,
    CONSTRAINT deployments_revision_key UNIQUE (tenant, uid, revision)
);

CREATE INDEX deployments_embedding_idx ON deployments
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX deployments_tsv_idx ON deployments USING gin (tsv);
-- Listing newest first (keyset pagination on created_at, id) and time-range filters.
CREATE INDEX deployments_tenant_created_idx ON deployments (tenant, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_framework_idx ON deployments (tenant, framework);
CREATE INDEX deployments_tenant_outcome_idx ON deployments (tenant, outcome);
CREATE INDEX deployments_tenant_strategy_idx ON deployments (tenant, strategy);
CREATE INDEX deployments_tenant_name_idx ON deployments (tenant, name, revision);
CREATE INDEX deployments_stale_idx ON deployments (id) WHERE embedding_stale;

CREATE TABLE feedback (
    record_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    user_name text NOT NULL,
    vote smallint NOT NULL CHECK (vote IN (-1, 1)),
    comment text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- One vote per user per record; a new vote replaces the old one.
    PRIMARY KEY (record_id, user_name)
);
