# After `azd down` (Windows twin of postdown.sh): clear the wiring flag, and give the next vault
# a new name suffix, because the soft-deleted vault (purge protection) keeps its name.
# Native commands report failure through $LASTEXITCODE, checked after each call; 'Continue'
# keeps Windows PowerShell 5.1 from turning a redirected stderr line into a terminating error.
$ErrorActionPreference = 'Continue'

azd env set ROLLOVER_WIRE_TRIGGERS false
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

$created = azd env get-value ROLLOVER_KEY_VAULT_CREATED 2>$null
if ($created -eq 'true') {
  $suffix = -join ((97..122) + (48..57) | Get-Random -Count 5 | ForEach-Object { [char]$_ })
  azd env set ROLLOVER_KEY_VAULT_NAME_SUFFIX $suffix
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host "The deleted vault keeps its name while soft-deleted; the next azd up names the vault with suffix '$suffix'."
}
