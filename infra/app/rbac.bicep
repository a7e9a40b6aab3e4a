// Every Azure role assignment of the deployment, and why. Each is scoped to one resource, never
// to a resource group or the subscription, and named guid(scope, principal, role) so that a
// second deployment finds it instead of adding another.
//
// main.bicep deploys this module twice: in the app's resource group (storage, Application
// Insights, the data collection rule, the dead-letter container) and in the vault's resource
// group (the vault), since a role assignment must be deployed where its scope lives. A
// resource whose name is empty here is not granted on.
//
// What is deliberately absent: any Key Vault Secrets role (private keys never leave the vault;
// every signature is Key Vault's sign operation), Key Vault Administrator, Contributor or
// Owner anywhere, and shared-key or SAS access to storage. Microsoft Graph permissions are in
// graph.bicep.

@description('Principal (object) id of Rollover\'s user-assigned identity.')
param appPrincipalId string

@description('Principal id of the identity Event Grid writes dead letters with; empty: none.')
param eventGridPrincipalId string = ''

param storageAccountName string = ''
param deadLetterContainerName string = ''
param applicationInsightsName string = ''
param dataCollectionRuleName string = ''
param keyVaultName string = ''

@description('Object id of the person deploying (azd AZURE_PRINCIPAL_ID); empty: none.')
param deployerPrincipalId string = ''

// Built-in role definition ids.
var roles = {
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985' // Key Vault Certificates Officer
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424' // Key Vault Crypto User
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
}

var grantStorage = !empty(storageAccountName)
var grantDeadLetter = grantStorage && !empty(deadLetterContainerName) && !empty(eventGridPrincipalId)
var grantAppInsights = !empty(applicationInsightsName)
var grantDcr = !empty(dataCollectionRuleName)
var grantVault = !empty(keyVaultName)
var grantDeployer = grantVault && !empty(deployerPrincipalId)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (grantStorage) {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = if (grantDeadLetter) {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = if (grantDeadLetter) {
  parent: blobService
  name: deadLetterContainerName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = if (grantAppInsights) {
  name: applicationInsightsName
}

resource auditRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' existing = if (grantDcr) {
  name: dataCollectionRuleName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (grantVault) {
  name: keyVaultName
}

// ----- Key Vault: that vault only --------------------------------------------------------------

// Why: Rollover renews certificates (begin a new version, read policies and versions, read
// and update the tags that declare bindings). Certificates Officer covers certificate objects
// only; it cannot read a certificate's secret, so the private key never leaves the vault.
resource appCertificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantVault) {
  name: guid(vault.id, appPrincipalId, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Rollover renews certificates and reads binding tags in this vault.'
  }
}

// Why: every signature Rollover needs (the proof-of-possession JWT for addKey/removeKey, the
// client assertion that verifies a new certificate) is made by Key Vault's sign operation on
// the certificate's key. Crypto User allows sign/verify on keys, not key export or deletion.
resource appCryptoUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantVault) {
  name: guid(vault.id, appPrincipalId, roles.keyVaultCryptoUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Rollover signs with certificate keys in this vault (keys never leave it).'
  }
}

// Why: the person running azd creates certificates and sets the rollover-* tags that bind them
// to targets (docs/deploy.md). Optional: empty deployerPrincipalId grants nothing.
resource deployerCertificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployer) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
    principalId: deployerPrincipalId
    principalType: 'User'
    description: 'The deploying operator creates and tags certificates (bindings).'
  }
}

// ----- Monitoring ------------------------------------------------------------------------------

// Why: the audit writer sends records through the Logs Ingestion API to this rule; publishing
// to a data collection rule needs Monitoring Metrics Publisher on the rule itself.
resource appDcrPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDcr) {
  name: guid(auditRule.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: auditRule
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Rollover sends audit records to this data collection rule.'
  }
}

// Why: Application Insights has local (key) auth off, so the host's telemetry is accepted only
// with an Entra ID token of an identity that may publish to this component.
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAppInsights) {
  name: guid(appInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'The Functions host sends telemetry with Entra ID authentication.'
  }
}

// ----- Storage: that account only ---------------------------------------------------------------

// Why: the Functions host keeps leases, timer state and keys in blobs and reads the Flex
// Consumption package; Rollover takes per-binding blob leases and spools audit records. Lease
// handling and container creation need Owner (Contributor cannot break leases it does not hold).
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Functions host storage, deployment package, binding leases, audit spool.'
  }
}

// Why: the sweep fans out one message per page over a queue that the sweepPage function
// triggers on (the host reads, updates and deletes messages, and moves poison messages).
resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Sweep fan-out queue and its queue trigger.'
  }
}

// Why: the per-binding state records (a journal and cache, rebuilt from Key Vault and Graph if
// lost) and the sweep's delta links are Azure Table entities.
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Binding state records and sweep delta links.'
  }
}

// Why: Event Grid writes events it could not deliver to the dead-letter container with its
// own identity (shared keys are off). Scoped to that one container.
resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeadLetter) {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Event Grid dead-letters undeliverable Key Vault events here.'
  }
}
