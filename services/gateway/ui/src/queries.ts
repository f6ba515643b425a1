// Every operation the UI sends; the shapes are in types.ts. The gateway caps depth (10), aliases
// and cost (a list's `first` multiplies what it selects), so pages are 50 rows.

export const ME = /* GraphQL */ `
  query Me {
    me { user groups tenants { namespace role } }
  }
`;

const ROW = /* GraphQL */ `
  fragment Row on Deployment {
    id namespace name phase
    spec { strategy cloudProvider region budget { maxMonthlyCost enforcementMode } }
    status { lastOutcome message }
    conditions { type status reason message }
    decision { strategy }
    cost { estimatedMonthly currency budgetVerdict }
  }
`;

export const PAGE_SIZE = 50;

export const DEPLOYMENTS = /* GraphQL */ `
  query Deployments($ns: String!, $first: Int, $after: String) {
    deployments(namespace: $ns, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ...Row } }
    }
  }
  ${ROW}
`;

export const DEPLOYMENTS_LIVE = /* GraphQL */ `
  subscription DeploymentsLive($ns: String!) {
    deploymentUpdated(namespace: $ns) { type deployment { ...Row } }
  }
  ${ROW}
`;

const DETAIL = /* GraphQL */ `
  fragment Detail on Deployment {
    id namespace name uid resourceVersion generation createdAt phase endpoints
    spec {
      repository { url ref subdirectory }
      prompt cloudProvider region domainName strategy rollbackTo paused policies
      budget { maxMonthlyCost alertThreshold enforcementMode }
    }
    status { lastOutcome message observedGeneration }
    conditions { type status reason message lastTransitionTime }
    decision {
      strategy reason confidence engine warnings
      alternatives { strategy reason confidence estimatedMonthlyCost }
      citations { recordId summary outcome score influence }
    }
    cost {
      estimatedMonthly actualThisMonth currency budgetVerdict pricingSource
      items { name description quantity unit unitPrice monthly }
    }
    history { revision timestamp strategy compositionName estimatedMonthlyCost outcome reason }
    events { type reason message count lastTimestamp source }
    feedback { recordId revision up down votes { user vote comment updatedAt } }
  }
`;

export const DEPLOYMENT = /* GraphQL */ `
  query Deployment($ns: String!, $name: String!) {
    deployment(namespace: $ns, name: $name) { ...Detail }
  }
  ${DETAIL}
`;

export const DEPLOYMENT_LIVE = /* GraphQL */ `
  subscription DeploymentLive($ns: String!, $name: String!) {
    deploymentUpdated(namespace: $ns, name: $name) { type deployment { ...Detail } }
  }
  ${DETAIL}
`;

export const CLOUD_PROVIDERS = /* GraphQL */ `
  query CloudProviders($ns: String!) {
    cloudProviders(namespace: $ns) { name type defaultRegion allowedRegions monthlyBudget ready }
  }
`;

const ERRORS = "errors { code field message }";

export const PREVIEW_PLAN = /* GraphQL */ `
  query PreviewPlan($ns: String!, $spec: DeploymentSpecInput!) {
    previewPlan(namespace: $ns, spec: $spec) {
      ${ERRORS}
      analysis {
        url ref commitSha hasCompose backingServices fileCount sizeBytes warnings
        applications {
          path name language framework confidence ports startCommand hasDockerfile runtimeVersion
          dependencies traits
          frameworkEvidence { file line rule detail }
        }
      }
      plan {
        strategy reason confidence warnings rejected rejectionReason parameters
        alternatives { strategy reason confidence cost { monthlyTotal } }
        budget { status budget estimated enforcement message }
        citations { recordId summary outcome score influence }
        provenance { engine retrievalUsed retrievalNote llmModel llmRejectionReason }
      }
      cost { monthlyTotal pricingSource items { name description quantity unit unitPrice monthly } }
      composition
      resources { name apiVersion kind manifest }
    }
  }
`;

export const CREATE_DEPLOYMENT = /* GraphQL */ `
  mutation CreateDeployment($ns: String!, $name: String!, $spec: DeploymentSpecInput!) {
    createDeployment(namespace: $ns, name: $name, spec: $spec) { deployment { name } ${ERRORS} }
  }
`;

export const DELETE_DEPLOYMENT = /* GraphQL */ `
  mutation DeleteDeployment($ns: String!, $name: String!) {
    deleteDeployment(namespace: $ns, name: $name) { deleted ${ERRORS} }
  }
`;

export const ROLLBACK = /* GraphQL */ `
  mutation Rollback($ns: String!, $name: String!, $revision: Int!) {
    rollbackDeployment(namespace: $ns, name: $name, revision: $revision) { deployment { name spec { rollbackTo } } ${ERRORS} }
  }
`;

export const FEEDBACK = /* GraphQL */ `
  mutation Feedback($ns: String!, $name: String!, $vote: Int!, $comment: String) {
    provideFeedback(namespace: $ns, name: $name, vote: $vote, comment: $comment) {
      feedback { recordId revision up down votes { user vote comment updatedAt } }
      ${ERRORS}
    }
  }
`;

export const SIMILAR = /* GraphQL */ `
  query Similar($ns: String!, $text: String, $deployment: String, $limit: Int) {
    similarDeployments(namespace: $ns, text: $text, deployment: $deployment, limit: $limit) {
      reranker fullTextOnly notes
      results {
        id name revision repositoryUrl framework language strategy cloud region estimatedMonthlyCost
        outcome outcomeReason createdAt score
        feedback { up down }
        components { vectorSimilarity textRank fused relevance feedback recency costEfficiency outcome }
      }
    }
  }
`;

export const COSTS = /* GraphQL */ `
  query Costs {
    me {
      tenants {
        namespace role
        costSummary {
          namespace currency deploymentCount estimatedMonthly actualThisMonth monthlyBudget budgetUsed
          overBudgetDeployments
          byStrategy { key estimatedMonthly }
          byCloudProvider { key estimatedMonthly }
        }
      }
    }
  }
`;
