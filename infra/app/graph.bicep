// Microsoft Entra objects and Microsoft Graph permissions (Bicep Microsoft Graph extension).
//
// Self mode, the default, needs NO Graph permission to change a key: the target rolls its own key
// with addKey/removeKey, proving possession of its current certificate with a JWT that Key Vault
// signs. Rollover's identity only *reads*: the target's keyCredentials before each step and every
// application and service principal in the sweep, which takes Application.Read.All (read-only).
// Only managed mode (for a target with no valid certificate left) writes as Rollover's identity,
// and then with Application.ReadWrite.OwnedBy: it can change only the applications that identity
// owns. Application.ReadWrite.All is never granted.
//
// The alert webhook's app registration is here too: Azure Monitor's Action Group service
// principal gets its ActionGroupsSecureWebhook role, so alert calls to remediateAlert carry an
// Entra ID token that the function can check.
//
// Who can deploy this file: creating the app registration and assigning its own app role needs
// Application Administrator or Cloud Application Administrator. Granting a *Microsoft Graph*
// application permission (Application.Read.All, Application.ReadWrite.OwnedBy) needs
// Privileged Role Administrator or Global Administrator: Application Administrator "grants the
// ability to consent for delegated permissions and application permissions, with the exception
// of application permissions for Microsoft Graph"
// (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference#application-administrator;
// the grant itself is POST /servicePrincipals/{id}/appRoleAssignments,
// https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments). With grantGraphPermissions false,
// those two grants are left out and an administrator runs the command that the postprovision
// hook prints (docs/deploy.md, "Application Administrator plus a later admin step").
//
// Replication: an app role assignment made right after its principal (the new managed identity
// or the webhook app's service principal) was created can fail while Entra ID replicates
// ("does not exist or one of its queried reference-property objects are not present"). The
// assignments are idempotent: running `azd provision` again completes them (docs/deploy.md).
extension microsoftGraphV1

@description('Principal (object) id of Rollover\'s user-assigned identity.')
param appPrincipalId string

@description('Grant Application.ReadWrite.OwnedBy for managed mode.')
param managedMode bool = false

@description('Grant the Microsoft Graph application permissions here (needs Privileged Role Administrator); false leaves them to an administrator.')
param grantGraphPermissions bool = true

@description('Unique name of the alert webhook\'s app registration.')
param webhookAppName string

// Well-known application ids.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
var actionGroupAppId = '461e8683-5575-4561-ac7f-899cc907d62a' // Azure Monitor Action Group

// Application.ReadWrite.OwnedBy, the only Graph application permission that lets Rollover write.
var applicationReadWriteOwnedByRoleId = '18a4783c-866b-4cc7-a460-3d5e5662c884'
// Application.Read.All: read applications and service principals (no writes).
var applicationReadAllRoleId = '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30'

var webhookRoleValue = 'ActionGroupsSecureWebhook'
var webhookRoleId = guid(webhookAppName, webhookRoleValue)

resource graphSp 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Why: the engine reads a target's keyCredentials before every step, and the sweep reads every
// application and service principal (paged, $select of credentials only). Read-only.
resource readApplications 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantGraphPermissions) {
  appRoleId: applicationReadAllRoleId
  principalId: appPrincipalId
  resourceId: graphSp.id
}

// Why: managed mode PATCHes keyCredentials of targets that Rollover's identity owns, for
// targets with no valid certificate to prove possession with. OwnedBy limits that to owned
// applications; the operator makes the identity an owner of each such target.
resource managedModeOwnedBy 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantGraphPermissions && managedMode) {
  appRoleId: applicationReadWriteOwnedByRoleId
  principalId: appPrincipalId
  resourceId: graphSp.id
}

resource webhookApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: webhookAppName
  displayName: 'Rollover alert webhook (${webhookAppName})'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    'api://${tenant().tenantId}/${webhookAppName}'
  ]
  api: {
    requestedAccessTokenVersion: 2
  }
  appRoles: [
    {
      id: webhookRoleId
      allowedMemberTypes: ['Application']
      displayName: webhookRoleValue
      description: 'Azure Monitor action groups may call Rollover\'s alert webhook.'
      value: webhookRoleValue
      isEnabled: true
    }
  ]
}

resource webhookSp 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: webhookApp.appId
}

// Created if the tenant does not have it yet (first use of secure webhooks); unchanged otherwise.
resource actionGroupSp 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: actionGroupAppId
}

// Why: Azure Monitor gets tokens for the webhook app only when its service principal holds
// the app's ActionGroupsSecureWebhook role. This grants nothing on Microsoft Graph.
resource actionGroupWebhookRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: webhookRoleId
  principalId: actionGroupSp.id
  resourceId: webhookSp.id
}

output webhookAppObjectId string = webhookApp.id
output webhookAppId string = webhookApp.appId
output webhookIdentifierUri string = webhookApp.identifierUris[0]
