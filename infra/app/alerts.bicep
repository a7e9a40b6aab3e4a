// Alerts that call Rollover back: an action group whose secure webhook posts the common alert
// schema to remediateAlert (route `alerts`), and two log search rules over the audit table.
// The rules tell remediateAlert what to do through custom properties (rollover-action) and
// which target through the TargetObjectId dimension (docs/deploy.md: pointing alert rules at
// remediation).

param location string
param tags object
param actionGroupName string
param workspaceId string
param auditTableName string
param functionAppName string
param webhookAppObjectId string
param webhookIdentifierUri string
param resourceToken string

@description('How often the rules run, and the window they look at.')
param evaluationFrequency string = 'PT15M'
param windowSize string = 'PT15M'

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The function key goes only into the action group's receiver (write-only there); the
// secure-webhook token is checked on top of it.
var remediateUrl = 'https://${app.properties.defaultHostName}/api/alerts?code=${listKeys('${app.id}/host/default', '2024-04-01').functionKeys.default}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: take('rollover${resourceToken}', 12)
    enabled: true
    webhookReceivers: [
      {
        name: 'remediateAlert'
        serviceUri: remediateUrl
        useCommonAlertSchema: true
        useAadAuth: true
        objectId: webhookAppObjectId
        identifierUri: webhookIdentifierUri
        tenantId: tenant().tenantId
      }
    ]
  }
}

// A rotation step failed: rotate that target again now (the engine is idempotent).
resource rotationFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'sqr-rollover-rotation-failed-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Rollover: rotation failed'
    description: 'A renew, attach, verify or retire step failed for a binding. Remediation rotates the target again.'
    severity: 2
    enabled: true
    scopes: [workspaceId]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '${auditTableName} | where Outcome == "failed" and Action in ("renew", "attach", "verify", "retire") and isnotempty(TargetObjectId) | summarize Failures = count() by TargetObjectId'
          timeAggregation: 'Total'
          metricMeasureColumn: 'Failures'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'TargetObjectId'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [actionGroup.id]
      customProperties: {
        'rollover-action': 'rotate'
      }
    }
  }
}

// The sweep found credentials expiring soon with no binding to renew them: sweep that target
// (report, or remove what policy allows, per ROLLOVER_SWEEP_MODE).
resource expiringUnbound 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'sqr-rollover-expiring-unbound-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Rollover: credentials expiring with no binding'
    description: 'The sweep reported credentials that expire soon and that no Key Vault binding will renew.'
    severity: 3
    enabled: true
    scopes: [workspaceId]
    evaluationFrequency: 'PT6H'
    windowSize: 'PT6H'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '${auditTableName} | where Action == "sweepFinding" and Reason == "ExpiringUnbound" and isnotempty(TargetObjectId) | summarize Findings = count() by TargetObjectId'
          timeAggregation: 'Total'
          metricMeasureColumn: 'Findings'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'TargetObjectId'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [actionGroup.id]
      customProperties: {
        'rollover-action': 'sweep'
      }
    }
  }
}

output actionGroupId string = actionGroup.id
