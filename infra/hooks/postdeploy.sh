#!/bin/sh
# After every `azd deploy`: the functions now exist, so wire Event Grid (keyVaultEvents) and the
# alerts (remediateAlert) by provisioning again with ROLLOVER_WIRE_TRIGGERS=true, then set it
# back to false. The flag is never left true in the environment: a later `azd provision`, or
# `azd up` after `azd down`, must not create the subscription and the alert webhook before the
# code is deployed (Event Grid checks the endpoint, and listKeys needs a running host).
# azd reloads the environment after a hook, so the reset is what it keeps.
set -eu

reset() { azd env set ROLLOVER_WIRE_TRIGGERS false >/dev/null 2>&1 || true; }
trap reset EXIT
trap "exit 130" INT TERM

echo "Wiring the Event Grid subscription and the alerts to the deployed functions..."
azd env set ROLLOVER_WIRE_TRIGGERS true
azd provision --no-prompt
