// The key that signs audit chain heads (docs/audit.md). Rollover signs with it through Key
// Vault's `sign` (keys/sign/action in its custom role, rbac.bicep), so the private key never
// leaves the vault: it is created non-exportable, for sign and verify only.
//
// Created through Azure Resource Manager (control plane), which creates the first version only
// if the key does not exist and otherwise returns it unchanged: a second deployment neither
// rotates it nor adds a version ("Keys - Create If Not Exist",
// https://learn.microsoft.com/rest/api/keyvault/keyvault/keys/create-if-not-exist).
// Properties: Azure/bicep-types-az generated/keyvault/microsoft.keyvault/2023-07-01/types.md
// (KeyProperties, KeyAttributes).

param keyVaultName string
param keyName string

@allowed([3072, 4096])
@description('RSA modulus size. 3072 bits gives about 128-bit security (NIST SP 800-57 Part 1, table 2).')
param keySize int = 3072

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource key 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_40:An expiry would stop audit signing on a date nobody chose; the key only signs chain heads, and a rotated key would break verification of older heads.
  // checkov:skip=CKV_AZURE_112:HSM-backed keys need the Premium vault SKU; the vault is Standard (software-protected keys, FIPS 140 Level 1). Use a Premium vault and kty RSA-HSM where policy requires it.
  parent: vault
  name: keyName
  properties: {
    kty: 'RSA'
    keySize: keySize
    keyOps: [
      'sign'
      'verify'
    ]
    attributes: {
      enabled: true
      exportable: false
    }
  }
}

// Versionless: Rollover signs with the current version and records the version it used.
output versionlessKeyUrl string = '${vault.properties.vaultUri}keys/${key.name}'
