// Telemetry and the audit pipeline: Application Insights (Entra ID sign-in only), the data
// collection rule the audit writer sends to (kind Direct: it has its own Logs Ingestion
// endpoint, no data collection endpoint needed) and the audit Workbook.

param location string
param tags object
param applicationInsightsName string
param dataCollectionRuleName string
param workspaceId string
param auditTableName string
param auditStreamName string

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceId
    IngestionMode: 'LogAnalytics'
    // Telemetry is accepted only with an Entra ID token (the app's identity holds Monitoring
    // Metrics Publisher on this component, rbac.bicep); the connection string alone is useless.
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

// The stream the audit writer sends (shared/config.ts ROLLOVER_DCR_STREAM_NAME) has exactly
// the audit record's columns, and lands unchanged in the custom table.
var auditColumns = loadJsonContent('audit-columns.json')

resource auditRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'Rollover audit records (Logs Ingestion API) into ${auditTableName}.'
    streamDeclarations: {
      '${auditStreamName}': {
        columns: [for column in auditColumns: {
          name: column.name
          type: column.type
        }]
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'audit'
          workspaceResourceId: workspaceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [auditStreamName]
        destinations: ['audit']
        // Records are stored as sent: the hash chain covers every column, so the transform must
        // not change, add or drop anything.
        transformKql: 'source'
        outputStream: 'Custom-${auditTableName}'
      }
    ]
  }
}

// The audit Workbook (infra/workbook/rollover-audit.workbook.json), over the workspace.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'rollover-audit-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Rollover audit'
    category: 'workbook'
    sourceId: workspaceId
    version: 'Notebook/1.0'
    serializedData: string(loadJsonContent('../workbook/rollover-audit.workbook.json'))
  }
}

output applicationInsightsName string = appInsights.name
output applicationInsightsConnectionString string = appInsights.properties.ConnectionString
output dataCollectionRuleName string = auditRule.name
output logsIngestionEndpoint string = auditRule.properties.endpoints.logsIngestion
output dcrImmutableId string = auditRule.properties.immutableId
output workbookId string = workbook.id
