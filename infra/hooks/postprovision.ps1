# After `azd provision` (Windows twin of postprovision.sh): when the Microsoft Graph application
# permissions were left to an administrator, print the exact commands to run (docs/deploy.md).
# Native commands report failure through $LASTEXITCODE, checked after each call; 'Continue'
# keeps Windows PowerShell 5.1 from turning a redirected stderr line into a terminating error.
$ErrorActionPreference = 'Continue'

$granted = azd env get-value ROLLOVER_GRAPH_PERMISSIONS_GRANTED 2>$null
if ($granted -ne 'false') { exit 0 }

$mi = azd env get-value ROLLOVER_IDENTITY_OBJECT_ID
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
$managed = azd env get-value ROLLOVER_MANAGED_MODE 2>$null

function Show-Grant([string]$roleId, [string]$roleName) {
  Write-Host "# $roleName"
  Write-Host "az rest --method POST --uri `"https://graph.microsoft.com/v1.0/servicePrincipals/$mi/appRoleAssignments`" \"
  Write-Host "  --headers Content-Type=application/json \"
  Write-Host "  --body `"{\`"principalId\`":\`"$mi\`",\`"resourceId\`":\`"`$graph\`",\`"appRoleId\`":\`"$roleId\`"}`""
}

Write-Host ''
Write-Host "Rollover's Microsoft Graph application permissions were NOT granted (grantGraphPermissions=false)."
Write-Host "A Privileged Role Administrator (or Global Administrator) runs, in a bash shell signed in with"
Write-Host "'az login' (Azure Cloud Shell works):"
Write-Host ''
Write-Host 'graph=$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv)'
Show-Grant '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30' 'Application.Read.All'
if ($managed -eq 'true') { Show-Grant '18a4783c-866b-4cc7-a460-3d5e5662c884' 'Application.ReadWrite.OwnedBy' }
Write-Host ''
Write-Host "Then 'rollover config --for apply' reports whether the grants are in place."
