// Rollover: the whole deployment that `azd up` provisions.
//
// One resource group holds the Function App (Flex Consumption), its storage, its identity and
// the monitoring pieces. The Key Vault and the Log Analytics workspace are created here too,
// unless existing ones are named by parameter (they may then live in other resource groups).
// Every role assignment is in app/rbac.bicep and every Microsoft Graph object in
// app/graph.bicep, so one can read in two files what each identity may do.
//
// Two-phase wiring: Event Grid and Azure Monitor check that the function they call exists when
// the subscription and the webhook are created, and the code is deployed only after
// provisioning. So the Event Grid subscription and the alerts are deployed only when
// `wireTriggers` is true: the postdeploy hook (infra/hooks/postdeploy.sh / .ps1) provisions
// again with it true after every `azd deploy`, and sets it back to false, so a later
// `azd provision` (or `azd up` after `azd down`) never wires to functions that do not exist yet
// (see docs/deploy.md).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; part of every generated name and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Azure region of the resource group and the resources in it.')
param location string

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID). Gets certificate access on the vault so they can create and tag bindings; empty grants nothing.')
param principalId string = ''

// azd sets AZURE_PRINCIPAL_TYPE to the signed-in principal's type (azure-dev
// cli/azd/docs/environment-variables.md); a pipeline signed in as a service principal gets
// 'ServicePrincipal'. ARM refuses a role assignment whose principalType does not match.
@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Type of principalId (AZURE_PRINCIPAL_TYPE): User, or ServicePrincipal when a pipeline deploys.')
param principalType string = 'User'

@description('Deploy the Event Grid subscription and the alerts, which need the functions to exist. Only the postdeploy hook sets it, for one provisioning run.')
param wireTriggers bool = false

@description('Grant Rollover\'s identity its Microsoft Graph application permissions in this deployment. Granting any Graph application permission needs Privileged Role Administrator (or Global Administrator); set false when the deployer is an Application Administrator, and have an administrator run the command the postprovision hook prints (docs/deploy.md).')
param grantGraphPermissions bool = true

@description('Admit inbound calls to the Function App only from the AzureEventGrid and ActionGroup service tags (off by default). Deployment (scm) keeps its own, unrestricted, Entra ID-protected endpoint.')
param restrictInboundToAzureServices bool = false

@maxLength(5)
@description('Appended to the generated vault name. The postdown hook sets a fresh one after `azd down`, because a soft-deleted vault with purge protection keeps its name until its retention ends.')
param keyVaultNameSuffix string = ''

@description('Extra tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Names (every one overridable; empty means the generated default)
// ---------------------------------------------------------------------------------------------

param resourceGroupName string = ''
param functionAppName string = ''
param appServicePlanName string = ''
param storageAccountName string = ''
param identityName string = ''
param eventGridIdentityName string = ''
param keyVaultName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param dataCollectionRuleName string = ''
param eventGridSystemTopicName string = ''
param actionGroupName string = ''

@description('Comma-separated e-mail addresses told about every outcome that needs a person (app/alerts.bicep).')
param alertEmails string = ''

@description('Resource id of an existing action group told about every outcome that needs a person.')
param peopleActionGroupId string = ''

@description('E-mail the subscription\'s Owners about every outcome that needs a person (app/alerts.bicep).')
param alertNotifyOwners bool = true

// ---------------------------------------------------------------------------------------------
// Existing resources
// ---------------------------------------------------------------------------------------------

@description('Name of an existing Key Vault (RBAC mode) to watch instead of creating one.')
param existingKeyVaultName string = ''

@description('Resource group of the existing Key Vault; defaults to the deployment\'s resource group.')
param existingKeyVaultResourceGroup string = ''

@description('Name of an existing Log Analytics workspace for the audit table instead of creating one.')
param existingLogAnalyticsName string = ''

@description('Resource group of the existing workspace; defaults to the deployment\'s resource group.')
param existingLogAnalyticsResourceGroup string = ''

// ---------------------------------------------------------------------------------------------
// Rollover behaviour (app settings; see the configuration table in README.md)
// ---------------------------------------------------------------------------------------------

@description('Allow managed mode: grants Rollover\'s identity Application.ReadWrite.OwnedBy on Microsoft Graph. Self mode needs no Graph permission.')
param managedMode bool = false

@allowed(['report', 'remove'])
@description('report only lists sweep findings; remove also removes what policy and guardrails allow.')
param sweepMode string = 'report'

@description('NCRONTAB schedule (six fields) of the reconcile-and-sweep timer.')
param reconcileSchedule string = '0 0 */6 * * *'

@minValue(1)
@description('Renew a certificate at the latest this many days before it expires.')
param renewBeforeDays int = 30

@minValue(0)
@description('Hours a replaced key stays on the target after the new key is verified.')
param graceHours int = 72

@minValue(0)
@description('At most this many credentials are removed in one run.')
param maxRemovalsPerRun int = 10

@minValue(0)
@description('At most this many credentials are removed in a clock hour (UTC), by every run together.')
param maxRemovalsPerHour int = 20

@minValue(0)
@description('At most this many credentials are removed in a UTC day, by every run together.')
param maxRemovalsPerDay int = 100

@description('Object ids or app ids the sweep may remove credentials from (empty: all it may see).')
param sweepAllowList array = []

@description('Object ids or app ids the sweep never removes credentials from.')
param sweepDenyList array = []

@description('Microsoft Graph base URL (national clouds).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@allowed(['error', 'warn', 'info', 'debug'])
param logLevel string = 'info'

@description('Any further app settings, merged last (they win).')
param extraAppSettings object = {}

// ---------------------------------------------------------------------------------------------
// Sizing and retention
// ---------------------------------------------------------------------------------------------

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@minValue(30)
@maxValue(730)
@description('Days the audit table keeps records interactively.')
param auditRetentionInDays int = 90

@minValue(30)
@maxValue(4383)
@description('Days the audit table keeps records in total (archive included).')
param auditTotalRetentionInDays int = 730

// ---------------------------------------------------------------------------------------------
// Names and tags
// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var serviceName = 'rollover'
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'rollover' })

// Vault names are at most 24 characters: kv- (3) + rollover- (9) + 10, or + 7 and a suffix of
// up to 5 once `azd down` left the first name soft-deleted.
var generatedKeyVaultName = empty(keyVaultNameSuffix) ? '${abbrs.keyVaultVaults}rollover-${take(resourceToken, 10)}' : '${abbrs.keyVaultVaults}rollover-${take(resourceToken, 7)}${toLower(keyVaultNameSuffix)}'

var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}rollover-${resourceToken}'
  plan: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}rollover-${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}rollover${resourceToken}'
  identity: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}rollover-${resourceToken}'
  eventGridIdentity: !empty(eventGridIdentityName) ? eventGridIdentityName : '${abbrs.managedIdentityUserAssignedIdentities}rollover-eg-${resourceToken}'
  keyVault: !empty(existingKeyVaultName) ? existingKeyVaultName : (!empty(keyVaultName) ? keyVaultName : generatedKeyVaultName)
  logAnalytics: !empty(existingLogAnalyticsName) ? existingLogAnalyticsName : (!empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}rollover-${resourceToken}')
  appInsights: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}rollover-${resourceToken}'
  dcr: !empty(dataCollectionRuleName) ? dataCollectionRuleName : '${abbrs.insightsDataCollectionRules}rollover-audit-${resourceToken}'
  systemTopic: !empty(eventGridSystemTopicName) ? eventGridSystemTopicName : '${abbrs.eventGridSystemTopics}rollover-kv-${resourceToken}'
  actionGroup: !empty(actionGroupName) ? actionGroupName : '${abbrs.insightsActionGroups}rollover-${resourceToken}'
}

var useExistingKeyVault = !empty(existingKeyVaultName)
var keyVaultResourceGroupName = useExistingKeyVault && !empty(existingKeyVaultResourceGroup) ? existingKeyVaultResourceGroup : names.resourceGroup
var useExistingLogAnalytics = !empty(existingLogAnalyticsName)
var logAnalyticsResourceGroupName = useExistingLogAnalytics && !empty(existingLogAnalyticsResourceGroup) ? existingLogAnalyticsResourceGroup : names.resourceGroup

// The audit table and the stream that feeds it: the names the code uses (shared/config.ts,
// ROLLOVER_DCR_STREAM_NAME default) and the columns it writes (shared/audit/record.ts).
var auditTableName = 'RolloverAudit_CL'
var auditStreamName = 'Custom-RolloverAudit_CL'

// The Key Vault events `keyVaultEvents` handles: near expiry and expired renew, a new version
// is attached. Nothing else reaches the function.
var keyVaultEventTypes = [
  'Microsoft.KeyVault.CertificateNewVersionCreated'
  'Microsoft.KeyVault.CertificateNearExpiry'
  'Microsoft.KeyVault.CertificateExpired'
]

// Containers the deployment itself needs: the Flex Consumption package and Event Grid's
// dead letters. The app creates its own containers, queues and tables at run time.
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: allTags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: allTags
    appIdentityName: names.identity
    eventGridIdentityName: names.eventGridIdentity
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module createdKeyVault 'app/keyvault.bicep' = if (!useExistingKeyVault) {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: allTags
  }
}

resource existingKeyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (useExistingKeyVault) {
  name: existingKeyVaultName
  scope: resourceGroup(keyVaultResourceGroupName)
}

// The vault Rollover works with, created or existing.
var keyVault = {
  id: useExistingKeyVault ? existingKeyVault.id : createdKeyVault.outputs.id
  name: useExistingKeyVault ? existingKeyVaultName : createdKeyVault.outputs.name
  uri: useExistingKeyVault ? existingKeyVault.properties.vaultUri : createdKeyVault.outputs.uri
  location: useExistingKeyVault ? existingKeyVault.location : location
}

// The key that signs audit chain heads, in the same vault (created or existing).
var auditSigningKeyName = 'rollover-audit-signing'

module auditSigningKey 'app/audit-key.bicep' = {
  name: 'audit-signing-key'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    keyVaultName: keyVault.name
    keyName: auditSigningKeyName
  }
}

module logAnalytics 'app/loganalytics.bicep' = {
  name: 'loganalytics'
  scope: resourceGroup(logAnalyticsResourceGroupName)
  params: {
    name: names.logAnalytics
    location: location
    tags: allTags
    useExisting: useExistingLogAnalytics
    auditTableName: auditTableName
    auditRetentionInDays: auditRetentionInDays
    auditTotalRetentionInDays: auditTotalRetentionInDays
  }
  dependsOn: [rg]
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: allTags
    applicationInsightsName: names.appInsights
    dataCollectionRuleName: names.dcr
    workspaceId: logAnalytics.outputs.id
    auditTableName: logAnalytics.outputs.auditTableName
    auditStreamName: auditStreamName
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: union(allTags, { 'azd-service-name': serviceName })
    identityId: identity.outputs.appIdentityId
    identityClientId: identity.outputs.appIdentityClientId
    identityPrincipalId: identity.outputs.appIdentityPrincipalId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    vaultUri: keyVault.uri
    vaultId: keyVault.id
    auditSigningKeyId: auditSigningKey.outputs.versionlessKeyUrl
    restrictInboundToAzureServices: restrictInboundToAzureServices
    logsIngestionEndpoint: monitoring.outputs.logsIngestionEndpoint
    dcrImmutableId: monitoring.outputs.dcrImmutableId
    dcrStreamName: auditStreamName
    managedMode: managedMode
    sweepMode: sweepMode
    reconcileSchedule: reconcileSchedule
    renewBeforeDays: renewBeforeDays
    graceHours: graceHours
    maxRemovalsPerRun: maxRemovalsPerRun
    maxRemovalsPerHour: maxRemovalsPerHour
    maxRemovalsPerDay: maxRemovalsPerDay
    sweepAllowList: sweepAllowList
    sweepDenyList: sweepDenyList
    graphBaseUrl: graphBaseUrl
    alertWebhookAudiences: '${graph.outputs.webhookIdentifierUri},${graph.outputs.webhookAppId}'
    logLevel: logLevel
    extraAppSettings: extraAppSettings
  }
}

// Role assignments on resources in the deployment's resource group.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.appIdentityPrincipalId
    eventGridPrincipalId: identity.outputs.eventGridIdentityPrincipalId
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    dataCollectionRuleName: monitoring.outputs.dataCollectionRuleName
    keyVaultName: ''
    deployerPrincipalId: ''
    deployerPrincipalType: principalType
  }
}

// Role assignments on the vault, which may live in another resource group: the same module,
// deployed where the vault is, with only the vault named.
module rbacVault 'app/rbac.bicep' = {
  name: 'rbac-vault'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    appPrincipalId: identity.outputs.appIdentityPrincipalId
    eventGridPrincipalId: ''
    storageAccountName: ''
    deadLetterContainerName: ''
    applicationInsightsName: ''
    dataCollectionRuleName: ''
    keyVaultName: keyVault.name
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

// Microsoft Graph: the alert webhook's app registration, Application.Read.All, and
// Application.ReadWrite.OwnedBy only when managed mode is enabled. With grantGraphPermissions
// false the two Graph application permissions are left to an administrator (docs/deploy.md).
module graph 'app/graph.bicep' = {
  name: 'graph'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.appIdentityPrincipalId
    managedMode: managedMode
    grantGraphPermissions: grantGraphPermissions
    webhookAppName: 'rollover-alerts-${resourceToken}'
  }
}

// The system topic lives with the vault (a vault has at most one system topic).
module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    systemTopicName: names.systemTopic
    location: keyVault.location
    tags: allTags
    keyVaultId: keyVault.id
    eventGridIdentityId: identity.outputs.eventGridIdentityId
    subscribe: wireTriggers
    functionAppId: functionApp.outputs.id
    functionAppHostName: functionApp.outputs.defaultHostName
    functionName: 'keyVaultEvents'
    includedEventTypes: keyVaultEventTypes
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: deadLetterContainerName
  }
  dependsOn: [rbac]
}

module alerts 'app/alerts.bicep' = if (wireTriggers) {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: allTags
    actionGroupName: names.actionGroup
    workspaceId: logAnalytics.outputs.id
    auditTableName: logAnalytics.outputs.auditTableName
    functionAppName: functionApp.outputs.name
    webhookAppObjectId: graph.outputs.webhookAppObjectId
    webhookIdentifierUri: graph.outputs.webhookIdentifierUri
    resourceToken: resourceToken
    alertEmails: alertEmails
    peopleActionGroupId: peopleActionGroupId
    notifyOwners: alertNotifyOwners
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs: azd stores them in the environment (.azure/<env>/.env); the Function App gets the
// same values as app settings (app/function.bicep), so a local run can use the environment.
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLIENT_ID string = identity.outputs.appIdentityClientId
output SERVICE_ROLLOVER_NAME string = functionApp.outputs.name
output SERVICE_ROLLOVER_URI string = functionApp.outputs.uri
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.name
output AZURE_KEY_VAULT_RESOURCE_GROUP string = keyVaultResourceGroupName
output AZURE_LOG_ANALYTICS_WORKSPACE_ID string = logAnalytics.outputs.id
output AZURE_LOG_ANALYTICS_CUSTOMER_ID string = logAnalytics.outputs.customerId
// For `rollover audit verify` on an operator's machine (not an app setting of the Function App).
output ROLLOVER_AUDIT_WORKSPACE_ID string = logAnalytics.outputs.customerId
output ROLLOVER_IDENTITY_OBJECT_ID string = identity.outputs.appIdentityPrincipalId
output ROLLOVER_VAULT_URLS string = keyVault.uri
output ROLLOVER_ALLOWED_VAULTS string = keyVault.id
output ROLLOVER_LOGS_INGESTION_ENDPOINT string = monitoring.outputs.logsIngestionEndpoint
output ROLLOVER_DCR_IMMUTABLE_ID string = monitoring.outputs.dcrImmutableId
output ROLLOVER_DCR_STREAM_NAME string = auditStreamName
output ROLLOVER_MANAGED_MODE string = managedMode ? 'true' : 'false'
output ROLLOVER_ALERT_WEBHOOK_APP_ID string = graph.outputs.webhookAppId
output ROLLOVER_AUDIT_SIGNING_KEY_ID string = auditSigningKey.outputs.versionlessKeyUrl
// Read by the postprovision hook: when false, it prints the command an administrator runs.
output ROLLOVER_GRAPH_PERMISSIONS_GRANTED string = grantGraphPermissions ? 'true' : 'false'
output ROLLOVER_KEY_VAULT_CREATED string = useExistingKeyVault ? 'false' : 'true'
