// The Function App: Flex Consumption (Linux, scale to zero, per-function scaling), Node 22,
// running as Rollover's user-assigned identity. No secret appears in its settings: storage,
// Application Insights, Key Vault, Graph and the Logs Ingestion API are all reached with the
// identity (AZURE_CLIENT_ID).

param name string
param planName string
param location string
param tags object

param identityId string
param identityClientId string
param identityPrincipalId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Spread instances over availability zones (Flex Consumption supports it in regions with zones).')
param zoneRedundant bool = false

// Rollover's settings (shared/config.ts SETTINGS).
param vaultUri string
param vaultId string
@description('Versionless URL of the Key Vault key that signs audit chain heads.')
param auditSigningKeyId string
param logsIngestionEndpoint string
param dcrImmutableId string
param dcrStreamName string
param managedMode bool
param sweepMode string
param reconcileSchedule string
param renewBeforeDays int
param graceHours int
param maxRemovalsPerRun int
param maxRemovalsPerHour int
param maxRemovalsPerDay int
param sweepAllowList array
param sweepDenyList array
param graphBaseUrl string
param logLevel string
@description('Accepted audiences of the alert webhook\'s secure-webhook tokens (identifier URI, client id).')
param alertWebhookAudiences string

param extraAppSettings object

@description('Admit inbound calls only from the AzureEventGrid and ActionGroup service tags.')
param restrictInboundToAzureServices bool = false

// Inbound access restrictions (https://learn.microsoft.com/azure/app-service/app-service-ip-restrictions#set-a-service-tag-based-rule):
// Event Grid delivers keyVaultEvents from the AzureEventGrid service tag and action groups call
// remediateAlert from the ActionGroup service tag (https://learn.microsoft.com/azure/virtual-network/service-tags-overview).
// The scm site, where `azd deploy` publishes the package (Entra ID only, basic auth off),
// keeps its own rules (none): scmIpSecurityRestrictionsUseMain false. Property names: Azure/
// bicep-types-az generated/web/microsoft.web/2024-04-01/types.md (SiteConfig, IpSecurityRestriction).
var inboundRestrictions = [
  {
    name: 'AzureEventGrid'
    description: 'Event Grid delivers Key Vault events to keyVaultEvents.'
    action: 'Allow'
    tag: 'ServiceTag'
    ipAddress: 'AzureEventGrid'
    priority: 100
  }
  {
    name: 'ActionGroup'
    description: 'Azure Monitor action groups call remediateAlert.'
    action: 'Allow'
    tag: 'ServiceTag'
    ipAddress: 'ActionGroup'
    priority: 110
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy depends on the region; it is the zoneRedundant parameter (off by default so that azd up works in every Flex Consumption region).
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales to zero by design; Event Grid, queue and webhook deliveries are retried, so no instance must be kept warm (set alwaysReady where latency matters).
  // checkov:skip=CKV_AZURE_213:Health check probes instances of a dedicated plan; Flex Consumption manages its instances itself.
  // checkov:skip=CKV_AZURE_17:Client certificates are not used by Event Grid or Azure Monitor webhooks; callers authenticate with keys and Entra ID tokens.
  // checkov:skip=CKV_AZURE_222:Event Grid and Azure Monitor call the app over its public endpoint; set restrictInboundToAzureServices to admit only the AzureEventGrid and ActionGroup service tags (docs/deploy.md).
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      ipSecurityRestrictions: restrictInboundToAzureServices ? inboundRestrictions : []
      ipSecurityRestrictionsDefaultAction: restrictInboundToAzureServices ? 'Deny' : 'Allow'
      scmIpSecurityRestrictionsUseMain: false
      appSettings: [for setting in items(union(appSettings, extraAppSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // Node 22, the LTS Flex Consumption runs (Node 20's support in Functions ended April 30,
      // 2026): https://learn.microsoft.com/azure/azure-functions/supported-languages?pivots=programming-language-javascript
      // and the Flex stack list (az functionapp list-flexconsumption-runtimes; Az.Functions 4.3.0
      // custom/FunctionsStackFlexData/*/node.json: Node.js 22, 22 LTS, default, Functions ~4).
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Deployment goes through azd (Entra ID); no FTP or SCM basic-auth publishing credentials.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Every setting Rollover reads in Azure (test/unit/infra/infra-drift.test.ts checks this list
// against shared/config.ts). Flex Consumption takes the runtime from functionAppConfig, so
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION must not be set.
var appSettings = {
  // The Functions host's own storage, through the identity (no connection string).
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The cloud's storage DNS suffix: Rollover's own storage clients build endpoints from it.
  ROLLOVER_STORAGE_ENDPOINT_SUFFIX: environment().suffixes.storage
  // Telemetry with Entra ID sign-in (local auth is off on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Who Rollover is.
  AZURE_TENANT_ID: tenant().tenantId
  AZURE_CLIENT_ID: identityClientId
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  ROLLOVER_IDENTITY_OBJECT_ID: identityPrincipalId
  ROLLOVER_GRAPH_BASE_URL: graphBaseUrl
  // Where bindings live, and the only vault whose events are acted on.
  ROLLOVER_VAULT_URLS: vaultUri
  ROLLOVER_ALLOWED_VAULTS: vaultId
  // The audit trail.
  ROLLOVER_LOGS_INGESTION_ENDPOINT: logsIngestionEndpoint
  ROLLOVER_DCR_IMMUTABLE_ID: dcrImmutableId
  ROLLOVER_DCR_STREAM_NAME: dcrStreamName
  ROLLOVER_AUDIT_SIGNING_KEY_ID: auditSigningKeyId
  // Behaviour an operator sets per deployment.
  ROLLOVER_MANAGED_MODE: managedMode ? 'true' : 'false'
  ROLLOVER_SWEEP_MODE: sweepMode
  ROLLOVER_RECONCILE_SCHEDULE: reconcileSchedule
  ROLLOVER_RENEW_BEFORE_DAYS: string(renewBeforeDays)
  ROLLOVER_GRACE_HOURS: string(graceHours)
  ROLLOVER_MAX_REMOVALS_PER_RUN: string(maxRemovalsPerRun)
  ROLLOVER_MAX_REMOVALS_PER_HOUR: string(maxRemovalsPerHour)
  ROLLOVER_MAX_REMOVALS_PER_DAY: string(maxRemovalsPerDay)
  ROLLOVER_ALLOW_LIST: join(sweepAllowList, ',')
  ROLLOVER_DENY_LIST: join(sweepDenyList, ',')
  ROLLOVER_LOG_LEVEL: logLevel
  // remediateAlert accepts only the action group's Entra token for the webhook app (secure webhook).
  ROLLOVER_ALERT_SECURE_WEBHOOK: 'true'
  ROLLOVER_ALERT_WEBHOOK_AUDIENCES: alertWebhookAudiences
}

output id string = site.id
output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
output defaultHostName string = site.properties.defaultHostName
