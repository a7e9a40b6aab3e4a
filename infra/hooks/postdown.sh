#!/bin/sh
# After `azd down`: leave the environment ready for a fresh `azd up`.
# - Triggers are wired only by the postdeploy hook; clear a flag an interrupted run left set.
# - The vault is soft-deleted and, with purge protection, keeps its name until its retention
#   ends. When the deployment created the vault, pick a new name suffix so that the next
#   `azd up` under this environment name creates a vault under a free name.
set -eu

azd env set ROLLOVER_WIRE_TRIGGERS false

created="$(azd env get-value ROLLOVER_KEY_VAULT_CREATED 2>/dev/null || true)"
if [ "$created" = "true" ]; then
  suffix="$(LC_ALL=C tr -dc 'a-z0-9' </dev/urandom | head -c 5)"
  azd env set ROLLOVER_KEY_VAULT_NAME_SUFFIX "$suffix"
  echo "The deleted vault keeps its name while soft-deleted; the next azd up names the vault with suffix '$suffix'."
fi
