// The ARR lease governor on Azure Functions Flex Consumption, identity-based end to end:
// no storage keys, no instrumentation keys, the ARR account key (if any) only in Key Vault.
// Plain resources only (no registry modules), so the template parses and is tested offline.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds resource names and the azd-env-name tag.')
param environmentName string

@description('Region of every resource. Must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Object id of the person (or pipeline) operating the governor: gets table data and vault secret roles so `python -m governor projects apply` and `az keyvault secret set` work with an Entra login. Empty: no operator roles.')
param operatorPrincipalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// Requests per instance (docs/deploy.md, "Per-instance concurrency"; docs/performance.md, "Requests per instance").
@minValue(1)
@maxValue(1000)
@description('HTTP requests one instance serves at once (functionAppConfig scaleAndConcurrency.triggers.http.perInstanceConcurrency; the Flex default for Python is 1). 16 from bench/instance_bench.py: one local host process admitting into one project served 3.1 to 3.7 times as many admissions per second at 16 at once as at 1 (group commit batches the admissions of a project inside one process) and gained nothing steady at 32 (-10 % to +14 % over three runs) while its median doubled; at 16 the p99 was 98 to 115 ms and the peak RSS 54 MB of the 2,048 MB instance. More requests per instance: fewer instances writing the state row of one project in a burst. Keep pythonThreadpoolThreadCount at least as large.')
param httpPerInstanceConcurrency int = 16

@minValue(1)
@description('PYTHON_THREADPOOL_THREAD_COUNT: threads of the Python worker that run the sync functions (every function of the app is sync). At least httpPerInstanceConcurrency, or requests the instance accepted wait for a thread; the worker default on Python 3.11 is min(32, CPU count + 4).')
param pythonThreadpoolThreadCount int = 16

// --- ARR ---
@minLength(1)
@description('ARR account id (GUID) of the default account.')
param arrAccountId string

@minLength(1)
@description('ARR region name (e.g. westus2) or full service URL.')
param arrServiceEndpoint string

@description('Account domain such as eastus.mixedreality.azure.com. Empty: derived by the governor.')
param arrAccountDomain string = ''

@description('Token service URL. Empty: https://sts.{arrAccountDomain}.')
param arrStsEndpoint string = ''

@allowed(['2021-01-01', 'v1'])
param arrApiVersion string = '2021-01-01'

@description('key: the ARR account key lives in Key Vault. entra: the function identity gets ARR tokens itself with Remote Rendering Client on the ARR account (assigned here when arrAccountResourceId is set); no key anywhere.')
@allowed(['key', 'entra'])
param arrAuth string = 'key'

@secure()
@description('ARR account key (arrAuth=key). Empty: the secret is not written here; set it later with az keyvault secret set.')
param arrAccountKey string = ''

@secure()
@description('Pepper of the caller keys (GOVERNOR_KEY_PEPPER): at least 32 characters, made once (python -c "import secrets; print(secrets.token_urlsafe(32))") and written to Key Vault as governor-key-pepper. Keep it: a different pepper stops every key issued under the old one. Empty: the secret is not written here (see keyPepperInVault).')
param keyPepper string = ''

@description('true: the app reads GOVERNOR_KEY_PEPPER from the vault secret governor-key-pepper even when keyPepper is empty (it was written before, by an earlier deploy or az keyvault secret set), so later deploys need not pass it. false with keyPepper empty: no pepper, keys are stored as plain SHA-256.')
param keyPepperInVault bool = false

@description('Further ARR accounts (GOVERNOR_ARR_ACCOUNTS), a JSON array of objects.')
param arrAccounts array = []

@description('Key Vault secrets of further accounts: { "<accountKeySetting app setting name>": "<secret name in the vault>" }. The operator writes the secret values.')
param arrAccountKeySecrets object = {}

@description('Resource id of the default ARR account (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MixedReality/remoteRenderingAccounts/<name>), in any subscription of the tenant. Set: the template makes the ARR role assignments (the connect role, and Remote Rendering Client for the governor when arrAuth is entra) in that account. Empty: no ARR role assignments; make them by hand (docs/deploy.md section 5).')
param arrAccountResourceId string = ''

// --- Connect: what client apps get to join a session the gate made (docs/deploy.md section 5) ---
@description('entra: the connect route hands apps an ARR token of the connect identity (a user-assigned identity with the Remote Rendering Session Connect role: read and connect to sessions, never start or stop one). key: a token minted with the account key, which can start sessions around the gate; development only, needs arrAuth=key. none: no token; apps sign users in themselves.')
@allowed(['none', 'key', 'entra'])
param arrConnectAuth string = 'entra'

param arrHttpTimeoutSeconds int = 10
param arrRetryTotalSeconds int = 30

// --- Governor ---
@minLength(1)
@maxLength(50)
@description('Prefix of the governor table names (letters and digits, starting with a letter).')
param tablePrefix string = 'governor'

@description('NCRONTAB (6 fields, UTC) of the sweep timer. Empty: every sweepIntervalMinutes minutes. A schedule of your own must fire at least every sweepIntervalMinutes minutes, or "no sweep finished" fires.')
param sweepSchedule string = ''

@description('true: decide, audit and report, but act on nothing. A first deployment stays in dry-run until you switch this off.')
param dryRun bool = true

@allowed(['report', 'stop', 'adopt'])
param unmanagedMode string = 'report'

@description('Project that adopts unmanaged sessions when unmanagedMode is adopt.')
param unmanagedProject string = ''

param warnBeforeMinutes int = 10
param sweepConcurrency int = 8
param healthStaleIntervals int = 3
param webhookTimeoutSeconds int = 5
param maxBodyBytes int = 65536
@description('Session reads through the gate reuse an ARR answer at most this many seconds old (0: always ask ARR).')
param gateReadSeconds string = '5'

@minValue(1)
@maxValue(1440)
@description('GOVERNOR_CAPACITY_WINDOW_MINUTES: after ARR ends a session in Error for want of servers, minutes the gate sends no session of that size to that account while another account of the project placement has none failing (docs/api.md, Placement).')
param capacityWindowMinutes int = 10
@description('Closed ledger rows older than this many days move to the History table (daily retention timer).')
param historyDays int = 90
@description('Audit rows and capacity failures older than this many days are deleted by the daily retention timer.')
param auditDays int = 400
param retentionMaxRows int = 5000
@description('Share (0-1) of read-only HTTP requests (gate reads, usage, health) whose traces are kept; sweeps, timers and writes are always kept, logs and metrics never sampled.')
param traceSampleRate string = '1'

// ---------------------------------------------------------------- alerts (docs/deploy.md)
@description('Email address the alerts go to (an action group). Empty: the alert rules are still created and show in the portal, but notify no one.')
param alertEmail string = ''
// Only intervals whose alert windows below land on the sizes Azure Monitor accepts for a log alert
// (5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880 minutes); any other is refused by ARM.
@allowed([1, 5, 10, 20, 60])
@description('Minutes between sweeps: the timer runs this often (unless sweepSchedule says otherwise), and "no sweep finished" fires after 3 intervals (at least 10 minutes) without one.')
param sweepIntervalMinutes int = 1
@description('Budget alert threshold: a project whose day or month use (spent + reserved) reaches this percent of its budget.')
param budgetAlertPercent int = 90
@description('Gate alert: fires when at least this percent of gate responses in 15 minutes are 5xx ...')
param gate5xxPercent int = 5
@description('... and there were at least this many responses.')
param gate5xxMinResponses int = 20

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var tableSuffixes = ['Projects', 'Ledger', 'Audit', 'Health', 'History']
var useArrKey = arrAuth == 'key'
var writePepper = !empty(keyPepper)
var usePepper = writePepper || keyPepperInVault
var useVault = useArrKey || !empty(arrAccountKeySecrets) || usePepper
var arrKeySecretName = 'arr-account-key'
var pepperSecretName = 'governor-key-pepper'
var keyVaultName = 'kv-${resourceToken}'

// ARR role assignments (module arr-roles.bicep, in the ARR account's resource group). Comparisons
// and logic stay in separate variables: pycep does not honour operator precedence.
var governorUsesEntra = arrAuth == 'entra'
var connectUsesEntra = arrConnectAuth == 'entra'
var arrRolesWanted = governorUsesEntra || connectUsesEntra
var hasArrAccountResourceId = !empty(arrAccountResourceId)
var makeArrRoles = hasArrAccountResourceId && arrRolesWanted
var makeConnectRole = makeArrRoles && connectUsesEntra
// Without an account id, the resource group id keeps the indexes valid (the module is then skipped).
var arrAccountIdParts = split(hasArrAccountResourceId ? arrAccountResourceId : resourceGroup().id, '/')

var roles = {
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

// ---------------------------------------------------------------- storage
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource governorTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for suffix in tableSuffixes: {
    parent: tableService
    name: '${tablePrefix}${suffix}'
  }
]

// ---------------------------------------------------------------- monitoring
resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
    features: { disableLocalAuth: true }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------- alerts
// Log search alerts over Application Insights. They match the names the app emits
// (governor/telemetry_names.py: metric names; governor/service/sweep/observe.py: the "sweep finished" record),
// which tests/unit/infra/test_alerts.py checks.
resource alertGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'governor'
    enabled: true
    emailReceivers: [
      { name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

var alertActions = empty(alertEmail) ? {} : { actionGroups: [alertGroup.id] }
// 3 intervals, but at least 10 minutes: Application Insights takes a few minutes to receive a record
var sweepWindowMinutes = max(3 * sweepIntervalMinutes, 10)
// room for the last 3 sweeps' records, late ones included
var failedActionsWindowMinutes = max(6 * sweepIntervalMinutes, 10)
// a log alert is evaluated at most every 15 minutes here (1, 5, 10 and 15 are sizes Azure accepts)
var sweepCheckMinutes = min(sweepIntervalMinutes, 15)
var sweepEveryMinute = sweepIntervalMinutes == 1
var sweepEvery = sweepEveryMinute ? '0 * * * * *' : '0 */${sweepIntervalMinutes} * * * *'
var sweepTimer = empty(sweepSchedule) ? sweepEvery : sweepSchedule

var alertRules = [
  {
    name: 'sweep-missing'
    description: 'No sweep finished in 3 sweep intervals (at least 10 minutes): the timer stopped, or every run crashes before its end.'
    severity: 1
    frequency: 'PT${sweepCheckMinutes}M'
    window: 'PT${sweepWindowMinutes}M'
    query: 'traces | where message startswith "sweep finished"'
    operator: 'LessThan'
    threshold: 1
  }
  {
    name: 'sweep-failed-actions'
    description: 'The last 3 sweeps each had failed actions (stop, extend, close...): ARR or storage keeps refusing them.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT${failedActionsWindowMinutes}M'
    query: 'traces | where message startswith "sweep finished" | top 3 by timestamp desc | summarize sweeps = count(), failing = countif(toint(customDimensions["governor.sweep.failed"]) > 0) | where sweeps == 3 and failing == 3'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'budget-90'
    description: 'A project used ${budgetAlertPercent}% or more of its day or month budget (spent + reserved).'
    severity: 3
    frequency: 'PT15M'
    window: 'PT15M'
    // governor.budget.utilization is a ratio (unit 1): 0.9 is 90 %
    query: 'customMetrics | where name == "governor.budget.utilization" | summarize used = max(value) by project = tostring(customDimensions["governor.project"]), period = tostring(customDimensions["governor.period"]) | where used >= ${budgetAlertPercent} / 100.0'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'gate-5xx'
    description: 'At least ${gate5xxPercent}% of gate responses in 15 minutes were 5xx (ARR or storage unavailable, or a defect).'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    // the HTTP server spans (the timers' invocations have result code 0); itemCount counts the reads
    // a trace sample rate below 1 dropped
    query: 'requests | where toint(resultCode) > 0 | summarize total = sum(itemCount), failed = sumif(itemCount, toint(resultCode) >= 500) | where total >= ${gate5xxMinResponses} and failed * 100.0 / total >= ${gate5xxPercent}'
    operator: 'GreaterThan'
    threshold: 0
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in alertRules: {
    name: 'alert-${rule.name}-${resourceToken}'
    location: location
    tags: tags
    properties: {
      displayName: 'governor: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [appInsights.id]
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      actions: alertActions
    }
  }
]

// ---------------------------------------------------------------- key vault
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = if (useVault) {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource arrKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (useArrKey && !empty(arrAccountKey)) {
  parent: vault
  name: arrKeySecretName
  properties: { value: arrAccountKey, contentType: 'ARR account key' }
}

resource pepperSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writePepper) {
  parent: vault
  name: pepperSecretName
  properties: { value: keyPepper, contentType: 'caller key pepper' }
}

// ---------------------------------------------------------------- identities
// The governor's own identity is the function app's system-assigned one: storage, telemetry, Key
// Vault references and (arrAuth=entra) ARR all use it, as none of them names a client id. The
// connect identity is a second, user-assigned identity, used only by the connect route to get ARR
// tokens for client apps (ManagedIdentityCredential with ARR_CONNECT_CLIENT_ID), so those tokens
// carry its narrow role and never the governor's.
resource connectIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-connect-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- function app
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned, UserAssigned'
    userAssignedIdentities: { '${connectIdentity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: { perInstanceConcurrency: httpPerInstanceConcurrency }
        }
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }

}

// Publishing goes through Entra (azd / az), never basic-auth FTP or SCM credentials.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: { allow: false }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: { allow: false }
}

// ---------------------------------------------------------------- role assignments
// A system-assigned principal id is only known once the site exists, and a role assignment
// name must be computable when the deployment starts, so the site's resource id stands in
// for the principal in guid(scope, principal, role).
resource tableDataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource blobDataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource metricsPublisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionApp.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource vaultSecretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useVault) {
  name: guid(vault.id, functionApp.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource operatorTableDataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(storage.id, operatorPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource operatorVaultSecretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useVault && !empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// The ARR account's roles: its resource group may be in another subscription, and a role assignment
// is declared at its own deployment's scope, hence a module (infra/arr-roles.bicep).
module arrRoles 'arr-roles.bicep' = if (makeArrRoles) {
  name: 'governor-arr-roles-${resourceToken}'
  scope: resourceGroup(arrAccountIdParts[2], arrAccountIdParts[4])
  params: {
    arrAccountName: last(arrAccountIdParts)
    roleNameSuffix: functionAppName
    assignConnectRole: connectUsesEntra
    connectPrincipalId: connectIdentity.properties.principalId
    assignGovernorRole: governorUsesEntra
    governorPrincipalId: functionApp.identity.principalId
  }
}

// ---------------------------------------------------------------- app settings
// Host plumbing, all identity-based. No FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION
// or WEBSITE_TIME_ZONE: Flex Consumption rejects them (the runtime is in functionAppConfig).
var hostSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // with host.json's "telemetryMode": "OpenTelemetry": the worker streams its OpenTelemetry data
  // itself (no duplicate host entries); the app configures Azure Monitor on its first invocation
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  // the worker's threads for sync functions: at least the requests an instance is sent at once
  PYTHON_THREADPOOL_THREAD_COUNT: string(pythonThreadpoolThreadCount)
}

// One entry per governor.settings.SETTINGS entry that Azure needs (tests/unit/infra checks this).
var governorSettings = {
  ARR_ACCOUNT_ID: arrAccountId
  ARR_ACCOUNT_DOMAIN: arrAccountDomain
  ARR_SERVICE_ENDPOINT: arrServiceEndpoint
  ARR_STS_ENDPOINT: arrStsEndpoint
  ARR_API_VERSION: arrApiVersion
  ARR_AUTH: arrAuth
  ARR_CONNECT_AUTH: arrConnectAuth
  ARR_CONNECT_CLIENT_ID: connectIdentity.properties.clientId
  GOVERNOR_ARR_ACCOUNTS: string(arrAccounts)
  ARR_HTTP_TIMEOUT_SECONDS: string(arrHttpTimeoutSeconds)
  ARR_RETRY_TOTAL_SECONDS: string(arrRetryTotalSeconds)
  GOVERNOR_TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
  GOVERNOR_TABLE_PREFIX: tablePrefix
  GOVERNOR_SWEEP_SCHEDULE: sweepTimer
  GOVERNOR_DRY_RUN: dryRun ? 'true' : 'false'
  GOVERNOR_UNMANAGED_MODE: unmanagedMode
  GOVERNOR_UNMANAGED_PROJECT: unmanagedProject
  GOVERNOR_WARN_BEFORE_MINUTES: string(warnBeforeMinutes)
  GOVERNOR_SWEEP_CONCURRENCY: string(sweepConcurrency)
  GOVERNOR_HEALTH_STALE_INTERVALS: string(healthStaleIntervals)
  GOVERNOR_WEBHOOK_TIMEOUT_SECONDS: string(webhookTimeoutSeconds)
  GOVERNOR_MAX_BODY_BYTES: string(maxBodyBytes)
  GOVERNOR_GATE_READ_SECONDS: gateReadSeconds
  GOVERNOR_CAPACITY_WINDOW_MINUTES: string(capacityWindowMinutes)
  GOVERNOR_HISTORY_DAYS: string(historyDays)
  GOVERNOR_AUDIT_DAYS: string(auditDays)
  GOVERNOR_RETENTION_MAX_ROWS: string(retentionMaxRows)
  GOVERNOR_TELEMETRY: 'auto'
  GOVERNOR_TRACE_SAMPLE_RATE: traceSampleRate
}

// Secrets reach the app only as Key Vault references, resolved by the site's identity.
var arrKeyReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${arrKeySecretName})'
var arrKeySettings = useArrKey ? { ARR_ACCOUNT_KEY: arrKeyReference } : {}
var pepperSettings = usePepper ? { GOVERNOR_KEY_PEPPER: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${pepperSecretName})' } : {}
var extraKeySettings = toObject(items(arrAccountKeySecrets), entry => entry.key, entry => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${entry.value})')

// A separate config resource, so settings (and Key Vault references) are applied only after
// the identity holds its roles.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(hostSettings, governorSettings, arrKeySettings, pepperSettings, extraKeySettings)
  dependsOn: [
    governorTables
    deploymentContainer
    tableDataRole
    blobDataRole
    metricsPublisherRole
    vaultSecretsUserRole
    arrRoles
  ]
}

// ---------------------------------------------------------------- outputs (azd writes them to .azure/<env>/.env)
output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_URL string = 'https://${functionApp.properties.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.name
output GOVERNOR_TABLES_ENDPOINT string = storage.properties.primaryEndpoints.table
output GOVERNOR_TABLE_PREFIX string = tablePrefix
output AZURE_KEY_VAULT_NAME string = useVault ? keyVaultName : ''
// For ARR role assignments by hand (docs/deploy.md section 5). Not named like the app settings:
// the connect identity is a managed identity, usable only inside Azure.
output FUNCTION_APP_PRINCIPAL_ID string = functionApp.identity.principalId
output CONNECT_IDENTITY_CLIENT_ID string = connectIdentity.properties.clientId
output CONNECT_IDENTITY_PRINCIPAL_ID string = connectIdentity.properties.principalId
output CONNECT_ROLE_NAME string = makeConnectRole ? arrRoles.outputs.connectRoleName : ''
