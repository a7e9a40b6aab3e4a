// Alerts over the audit table.
//
// - Rollover calls itself back: an action group whose secure webhook posts the common alert
//   schema to remediateAlert (route `alerts`); the "rotation failed" rule tells remediateAlert
//   what to do through a custom property (rollover-action) and which target through the
//   TargetObjectId dimension (docs/deploy.md: pointing alert rules at remediation).
// - People are told: every record whose ReasonClass is needsPerson (docs/reason-codes.md) fires
//   a rule whose action groups reach people: e-mail to the subscription's Owners (notifyOwners,
//   on by default) and to alertEmails, and/or an existing action group (peopleActionGroupId).
//   test/unit/infra/alerts-registry.test.ts checks that every needsPerson code of the registry
//   is matched by such a rule.

param location string
param tags object
param actionGroupName string
param workspaceId string
param auditTableName string
param functionAppName string
param webhookAppObjectId string
param webhookIdentifierUri string
param resourceToken string

@description('Comma-separated e-mail addresses told about every outcome that needs a person (refusals, read failures, credentials expiring with no binding, and more).')
param alertEmails string = ''

@description('Resource id of an existing action group (on-call, ITSM or Teams) told about every outcome that needs a person.')
param peopleActionGroupId string = ''

@description('Also e-mail the Owners of the subscription (Azure Monitor ARM role receiver), so that someone is told even when no address is given.')
param notifyOwners bool = true

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

// Comma-separated addresses; spaces are dropped.
var emails = empty(trim(alertEmails)) ? [] : split(replace(alertEmails, ' ', ''), ',')

// The people: an action group that e-mails the given addresses and the subscription's Owners
// (ARM role receiver, built-in role Owner; Azure Monitor e-mails the users holding it at
// subscription scope: https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups),
// plus an existing action group when its id is given.
var ownerRoleId = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635'
var peopleGroupDeployed = notifyOwners || !empty(emails)

resource peopleGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (peopleGroupDeployed) {
  name: '${actionGroupName}-people'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: take('rollppl${resourceToken}', 12)
    enabled: true
    emailReceivers: [
      for (address, i) in emails: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
    // One line per branch start: Checkov's Bicep parser skips a file whose ternary opens with `?`
    // on a line of its own.
    armRoleReceivers: notifyOwners ? [
      {
        name: 'subscription-owners'
        roleId: ownerRoleId
        useCommonAlertSchema: true
      }
    ] : []
  }
}

var peopleGroups = concat(
  peopleGroupDeployed ? [resourceId('Microsoft.Insights/actionGroups', '${actionGroupName}-people')] : [],
  empty(peopleActionGroupId) ? [] : [peopleActionGroupId]
)

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

// A binding keeps failing: remediation and the back-off retry a failed step by themselves, but
// more than three failures of one target in a day mean retrying is not going to fix it.
resource keepsFailing 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'sqr-rollover-keeps-failing-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Rollover: a binding keeps failing'
    description: 'A renew, attach, verify or retire step of one target failed more than three times in a day; retrying by itself has not fixed it. `rollover status` shows the binding and its last error.'
    severity: 2
    enabled: true
    scopes: [workspaceId]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '${auditTableName} | where Outcome == "failed" and Action in ("renew", "attach", "verify", "retire") and isnotempty(TargetObjectId) | summarize Failures = count() by TargetObjectId'
          timeAggregation: 'Total'
          metricMeasureColumn: 'Failures'
          operator: 'GreaterThan'
          threshold: 3
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
      actionGroups: peopleGroups
    }
  }
  dependsOn: [peopleGroup]
}

// The sweep found credentials expiring soon that no binding will renew: only a person can renew
// them (or bind them to a Key Vault certificate), so the people are told, one alert per object.
resource expiringUnbound 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'sqr-rollover-expiring-unbound-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Rollover: credentials expiring with no binding'
    description: 'The sweep reported credentials that expire soon and that no Key Vault binding will renew. Renew them, or bind them to a Key Vault certificate (docs/bindings.md).'
    severity: 2
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
      actionGroups: peopleGroups
    }
  }
  dependsOn: [peopleGroup]
}

// Every other outcome that needs a person (ReasonClass needsPerson: refusals, read failures,
// guardrails that leave a target with no valid credential, events from vaults not configured,
// alerts that name nothing Rollover knows, and more), one alert per reason code.
resource needsPerson 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'sqr-rollover-needs-person-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Rollover: needs a person'
    description: 'Rollover recorded an outcome it cannot resolve by itself (ReasonClass needsPerson). The Reason dimension names it; docs/reason-codes.md says what it means, and `rollover status` shows the bindings concerned.'
    severity: 2
    enabled: true
    scopes: [workspaceId]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '${auditTableName} | where ReasonClass == "needsPerson" and Reason != "ExpiringUnbound" | summarize Records = count() by Reason'
          timeAggregation: 'Total'
          metricMeasureColumn: 'Records'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'Reason'
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
      actionGroups: peopleGroups
    }
  }
  dependsOn: [peopleGroup]
}

output actionGroupId string = actionGroup.id
output peopleActionGroupIds array = peopleGroups
