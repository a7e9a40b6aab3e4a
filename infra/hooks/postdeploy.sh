#!/bin/sh
# After `azd deploy`: the functions now exist, so wire Event Grid (keyVaultEvents) and the
# alerts (remediateAlert) by provisioning again with ROLLOVER_WIRE_TRIGGERS=true. Runs once per
# environment; later deploys find the flag set and do nothing.
set -eu

wired="$(azd env get-value ROLLOVER_WIRE_TRIGGERS 2>/dev/null || true)"
if [ "$(printf %s "$wired" | tr "[:upper:]" "[:lower:]")" = "true" ]; then
  echo "Event Grid subscription and alerts are already wired."
  exit 0
fi

echo "Wiring the Event Grid subscription and the alerts to the deployed functions..."
azd env set ROLLOVER_WIRE_TRIGGERS true
azd provision --no-prompt
