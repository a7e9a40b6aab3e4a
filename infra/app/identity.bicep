// The identities. Rollover's own user-assigned identity runs the Function App and does all its
// work; a second identity lets Event Grid write dead letters to storage (which refuses shared
// keys), so Event Grid holds nothing of Rollover's rights. Their rights are in rbac.bicep and
// graph.bicep.

param location string
param tags object
param appIdentityName string
param eventGridIdentityName string

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource eventGrid 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appIdentityClientId string = app.properties.clientId
output appIdentityPrincipalId string = app.properties.principalId
output eventGridIdentityId string = eventGrid.id
output eventGridIdentityPrincipalId string = eventGrid.properties.principalId
