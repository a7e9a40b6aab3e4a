// Key Vault → Event Grid → keyVaultEvents. One system topic on the vault (a vault can have only
// one) and one subscription that delivers exactly the certificate events the function handles.
//
// Destination: a WebHook to the Functions host's Event Grid endpoint,
// https://<app>/runtime/webhooks/eventgrid?functionName=<fn>&code=<eventgrid_extension system key>,
// which is how Microsoft documents subscribing an Event Grid trigger programmatically
// (https://learn.microsoft.com/azure/azure-functions/event-grid-how-tos#webhook-endpoint-url)
// and what Microsoft's Flex Consumption samples do (Azure-Samples/functions-quickstart-typescript-azd-eventgrid-blob,
// scripts/post-up.sh: `--endpoint-type webhook` to /runtime/webhooks/... with the extension's
// system key). The `AzureFunction` endpoint type is not used: the samples for Flex Consumption
// do not use it. The system key exists once the host has loaded the function, which is why this
// subscription is created only from the postdeploy hook (subscribe = true).
// Event Grid delivers at least once and out of order; the function is safe to run twice.
// Events it could not deliver within the retry policy go to a dead-letter container, written
// with a dedicated identity (storage refuses shared keys).

param systemTopicName string
param location string
param tags object
param keyVaultId string
param eventGridIdentityId string

@description('Create the subscription (the function must already be deployed: Event Grid checks it).')
param subscribe bool = true

param functionAppId string
@description('The Function App\'s default host name (no scheme).')
param functionAppHostName string
param functionName string

@description('Event types delivered to the function; must equal what keyVaultEvents handles.')
param includedEventTypes array

param deadLetterStorageAccountId string
param deadLetterContainerName string

@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@minValue(1)
@maxValue(1440)
@description('Minutes Event Grid keeps retrying an event before it is dead-lettered.')
param eventTimeToLiveInMinutes int = 1440

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: keyVaultId
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// listKeys on the host: POST {site}/host/default/listKeys (Microsoft.Web 2024-04-01), whose
// systemKeys hold `eventgrid_extension` once the Event Grid extension has started. The URL is
// write-only in the subscription (endpointUrl is {sensitive} in Azure/bicep-types-az
// generated/eventgrid/microsoft.eventgrid/2025-02-15/types.md).
var eventGridEndpoint = subscribe ? 'https://${functionAppHostName}/runtime/webhooks/eventgrid?functionName=${functionName}&code=${listKeys('${functionAppId}/host/default', '2024-04-01').systemKeys.eventgrid_extension}' : ''

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (subscribe) {
  parent: systemTopic
  name: 'rollover-${functionName}'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: eventGridEndpoint
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
        minimumTlsVersionAllowed: '1.2'
      }
    }
    filter: {
      includedEventTypes: includedEventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicId string = systemTopic.id
output subscriptionName string = subscribe ? toFunction.name : ''
