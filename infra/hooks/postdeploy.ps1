# After every `azd deploy` (Windows twin of postdeploy.sh): the functions now exist, so wire
# Event Grid (keyVaultEvents) and the alerts (remediateAlert) by provisioning again with
# ROLLOVER_WIRE_TRIGGERS=true, then set it back to false, so a later `azd provision` or
# `azd up` after `azd down` never wires triggers before the code is deployed.
# Native commands report failure through $LASTEXITCODE, checked after each call; 'Continue'
# keeps Windows PowerShell 5.1 from turning a redirected stderr line into a terminating error.
$ErrorActionPreference = 'Continue'

Write-Host 'Wiring the Event Grid subscription and the alerts to the deployed functions...'
try {
  azd env set ROLLOVER_WIRE_TRIGGERS true
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  azd provision --no-prompt
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
finally {
  azd env set ROLLOVER_WIRE_TRIGGERS false | Out-Null
}
