// The Log Analytics workspace (or an existing one), the custom table the audit trail lands in,
// and the audit queries saved in the workspace. Deployed in the workspace's resource group,
// which may not be the app's.

param name string
param location string
param tags object

@description('Use the existing workspace of this name instead of creating one.')
param useExisting bool = false

param auditTableName string

@minValue(30)
@maxValue(730)
param auditRetentionInDays int = 90

@minValue(30)
@maxValue(4383)
param auditTotalRetentionInDays int = 730

@minValue(30)
@maxValue(730)
@description('Retention of the workspace itself (when created here).')
param workspaceRetentionInDays int = 30

resource workspaceCreated 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (!useExisting) {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: workspaceRetentionInDays
    features: {
      // Queries must use Entra ID and workspace or resource RBAC; no shared keys for ingestion.
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource workspaceExisting 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = if (useExisting) {
  name: name
}

var workspaceId = resourceId('Microsoft.OperationalInsights/workspaces', name)

// The audit table. Its columns are the audit record's fields (shared/audit/record.ts
// AUDIT_COLUMNS, kept equal to audit-columns.json by test/unit/infra/infra-drift.test.ts).
var auditColumns = loadJsonContent('audit-columns.json')

resource auditTable 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = {
  #disable-next-line use-parent-property
  name: '${name}/${auditTableName}'
  properties: {
    plan: 'Analytics'
    retentionInDays: auditRetentionInDays
    totalRetentionInDays: auditTotalRetentionInDays
    schema: {
      name: auditTableName
      description: 'Rollover audit trail: one record per decision and per change, chained by hash.'
      columns: [for column in auditColumns: {
        name: column.name
        // The tables API spells it dateTime; the audit schema (and the DCR stream) datetime.
        type: column.type == 'datetime' ? 'dateTime' : column.type
        description: column.description
      }]
    }
  }
  dependsOn: [workspaceCreated]
}

// The audit queries (infra/queries/*.kql), saved in the workspace under one category.
// test/unit/infra/infra-drift.test.ts fails when a query file is not in this list.
var savedQueries = [
  { name: 'audit-dedupe', displayName: 'Rollover: audit records, each once', functionAlias: 'RolloverAudit', query: loadTextContent('../queries/audit-dedupe.kql') }
  { name: 'rotations-over-time', displayName: 'Rollover: rotations over time', functionAlias: '', query: loadTextContent('../queries/rotations-over-time.kql') }
  { name: 'upcoming-expiries', displayName: 'Rollover: upcoming expiries by target', functionAlias: '', query: loadTextContent('../queries/upcoming-expiries.kql') }
  { name: 'removals-and-holds', displayName: 'Rollover: removals and what held others back', functionAlias: '', query: loadTextContent('../queries/removals-and-holds.kql') }
  { name: 'failures-by-reason', displayName: 'Rollover: failures by reason', functionAlias: '', query: loadTextContent('../queries/failures-by-reason.kql') }
  { name: 'chain-check', displayName: 'Rollover: audit chain check', functionAlias: '', query: loadTextContent('../queries/chain-check.kql') }
]

resource savedSearches 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for q in savedQueries: {
  #disable-next-line use-parent-property
  name: '${name}/rollover-${q.name}'
  properties: {
    category: 'Rollover'
    displayName: q.displayName
    query: q.query
    // The dedupe query doubles as the workspace function RolloverAudit.
    functionAlias: empty(q.functionAlias) ? null : q.functionAlias
    version: 2
  }
  dependsOn: [auditTable]
}]

output id string = workspaceId
output customerId string = useExisting ? workspaceExisting.properties.customerId : workspaceCreated.properties.customerId
output auditTableName string = auditTableName
