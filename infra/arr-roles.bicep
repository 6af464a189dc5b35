// ARR data-plane roles for the lease governor, on the ARR account (docs/deploy.md section 5).
// main.bicep deploys this file into the ARR account's resource group, which may be in another
// subscription: a role assignment can only be declared at the scope of its own deployment, so it
// is a local module (no registry), parsed offline like main.bicep.
// Role names and data actions are those of governor/core/policy/arr_roles.py; tests/unit/infra checks it.
targetScope = 'resourceGroup'

@description('Name of the ARR account (Microsoft.MixedReality/remoteRenderingAccounts) in this resource group.')
param arrAccountName string

@description('Makes the connect role name unique in the tenant (Azure requires it): the function app name.')
param roleNameSuffix string

@description('true: create the connect role and assign it to connectPrincipalId on the account.')
param assignConnectRole bool

@description('Principal (object) id of the connect identity, the user-assigned managed identity.')
param connectPrincipalId string

@description('true: assign Remote Rendering Client to governorPrincipalId on the account (arrAuth=entra).')
param assignGovernorRole bool

@description('Principal (object) id of the governor identity, the function app system-assigned identity.')
param governorPrincipalId string

// Read sessions and connect to them; never start (managesessions/action), extend or stop
// (managesessions/delete) one. A token of this role is what client apps get from the connect route.
var connectRole = {
  name: 'Remote Rendering Session Connect'
  dataActions: [
    'Microsoft.MixedReality/RemoteRenderingAccounts/managesessions/read'
    'Microsoft.MixedReality/RemoteRenderingAccounts/render/read'
    'Microsoft.MixedReality/RemoteRenderingAccounts/diagnostic/read'
  ]
}

var connectRoleDisplayName = '${connectRole.name} (${roleNameSuffix})'

// Built-in: managesessions read/action/delete, render/read, diagnostic/read. The governor starts,
// extends and stops sessions; it needs no conversions (Remote Rendering Administrator).
var remoteRenderingClient = {
  name: 'Remote Rendering Client'
  id: 'd39065c4-c120-43c9-ab0a-63eed9795f0a'
}

resource arrAccount 'Microsoft.MixedReality/remoteRenderingAccounts@2021-01-01' existing = {
  name: arrAccountName
}

// Custom role names are unique in a tenant, so each governor deployment has its own role,
// assignable in the ARR account's resource group only.
resource connectRoleDefinition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (assignConnectRole) {
  name: guid(resourceGroup().id, connectRole.name, roleNameSuffix)
  properties: {
    roleName: connectRoleDisplayName
    description: 'ARR lease governor connect identity: read Remote Rendering sessions and connect to them, never start, extend or stop one.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: connectRole.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [resourceGroup().id]
  }
}

// Both principals are parameters here, known when this module starts, so the assignment names
// can use them: a recreated identity gets a new assignment instead of a name clash.
resource connectRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignConnectRole) {
  name: guid(arrAccount.id, connectPrincipalId, connectRoleDefinition.name)
  scope: arrAccount
  properties: {
    principalId: connectPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', connectRoleDefinition.name)
  }
}

resource governorRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignGovernorRole) {
  name: guid(arrAccount.id, governorPrincipalId, remoteRenderingClient.id)
  scope: arrAccount
  properties: {
    principalId: governorPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', remoteRenderingClient.id)
  }
}

output connectRoleName string = assignConnectRole ? connectRoleDisplayName : ''
output connectRoleDefinitionId string = assignConnectRole ? subscriptionResourceId('Microsoft.Authorization/roleDefinitions', connectRoleDefinition.name) : ''
