// The vault whose certificates Rollover renews and whose keys sign for it. RBAC mode (no access
// policies), soft delete and purge protection: a deleted certificate, and the key that proves
// an app's identity, can always be recovered. (main.bicep skips this module when an existing
// vault is named; that vault must be in RBAC mode too, see docs/deploy.md.)

param name string
param location string
param tags object

@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:Flex Consumption without VNet integration calls the vault over its public endpoint; every call is authorized by Entra ID and RBAC. See docs/deploy.md for the private variant.
  // checkov:skip=CKV_AZURE_189:Same reason: public network access is needed by the Functions host unless it is VNet-integrated.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
output location string = vault.location
