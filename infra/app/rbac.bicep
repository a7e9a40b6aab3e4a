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
// Owner anywhere, and shared-key or SAS access to storage. Rollover's Key Vault access is a
// custom role with exactly the data actions it uses (below). Microsoft Graph permissions are
// in graph.bicep.
//
// principalType is set on every assignment: ARM then does not look the principal up in Entra
// ID, so an identity created moments earlier in the same deployment does not fail with
// PrincipalNotFound while Entra ID replicates
// (https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template#new-service-principal).

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

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Type of deployerPrincipalId (azd AZURE_PRINCIPAL_TYPE); a pipeline deploys as a ServicePrincipal.')
param deployerPrincipalType string = 'User'

// Built-in role definition ids.
var roles = {
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985' // Key Vault Certificates Officer
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

// Rollover's own Key Vault data-plane role: exactly the data actions it uses, nothing else
// (names and meanings: https://learn.microsoft.com/azure/role-based-access-control/permissions/security#microsoftkeyvault).
// Compared with Certificates Officer + Crypto User it cannot delete, purge, back up, restore,
// recover or import certificates, cannot create, import, delete or rotate keys, and cannot
// encrypt, decrypt, wrap or unwrap with any key.
//   certificates/read          get a certificate and its versions, list certificates and
//                              versions, read the policy and the pending create operation
//   certificates/create/action begin a new version with the certificate's own policy (renew)
//   certificates/update/action update a version's attributes and tags
//   keys/read                  read a key's public part: the audit signing key's algorithm,
//                              and the public key the audit chain's signatures are verified
//                              with (a certificate's key is never read: its signer is given
//                              the key id alone, shared/azure/keyvault.ts)
//   keys/sign/action           sign with the certificate's key (proof of possession, client
//                              assertion) and with the audit signing key (chain heads)
// Defining a role needs Microsoft.Authorization/roleDefinitions/write on the resource group
// (Owner or User Access Administrator; Role Based Access Control Administrator cannot).
// Schema: Azure/bicep-types-az generated/authorization/microsoft.authorization/2022-04-01/types.md.
var customRoles = {
  // Role names are unique in a tenant, role definition names (guids) too: both derive from the
  // resource group's id.
  keyVaultRenewer: guid(resourceGroup().id, 'rollover-key-vault-certificate-renewer')
}

var rolloverKeyVaultDataActions = [
  'Microsoft.KeyVault/vaults/certificates/read'
  'Microsoft.KeyVault/vaults/certificates/create/action'
  'Microsoft.KeyVault/vaults/certificates/update/action'
  'Microsoft.KeyVault/vaults/keys/read'
  'Microsoft.KeyVault/vaults/keys/sign/action'
]

resource rolloverKeyVaultRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (grantVault) {
  name: customRoles.keyVaultRenewer
  properties: {
    roleName: 'Rollover Key Vault certificate renewer (${uniqueString(resourceGroup().id)})'
    description: 'Renew certificates (new versions with their own policy), read and tag them, and sign with Key Vault keys. No delete, purge, import, export, encrypt or decrypt.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: rolloverKeyVaultDataActions
        notDataActions: []
      }
    ]
  }
}

// Why: Rollover renews certificates (begins a new version with the certificate's policy, reads
// versions, policies and pending operations, reads and updates the tags that declare
// bindings) and signs with keys that never leave the vault: the proof-of-possession JWT for
// addKey/removeKey, the client assertion that verifies a new certificate, and the audit chain
// heads. Its own role (above) holds exactly those data actions; no secret can be read, so no
// private key leaves the vault.
resource appKeyVaultRenewer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantVault) {
  name: guid(vault.id, appPrincipalId, customRoles.keyVaultRenewer)
  scope: vault
  // A custom role's id is subscription-level whatever scope defined it; hence the explicit
  // dependency on the definition.
  dependsOn: [rolloverKeyVaultRole]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', customRoles.keyVaultRenewer)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Rollover renews, reads and tags certificates and signs with keys in this vault.'
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
    principalType: deployerPrincipalType
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
