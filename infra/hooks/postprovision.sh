#!/bin/sh
# After `azd provision`: when the deployment left Rollover's Microsoft Graph application
# permissions to an administrator (ROLLOVER_GRANT_GRAPH_PERMISSIONS=false), print the exact
# commands a Privileged Role Administrator runs (docs/deploy.md). Prints nothing otherwise.
set -eu

granted="$(azd env get-value ROLLOVER_GRAPH_PERMISSIONS_GRANTED 2>/dev/null || true)"
[ "$granted" = "false" ] || exit 0

mi="$(azd env get-value ROLLOVER_IDENTITY_OBJECT_ID)"
managed="$(azd env get-value ROLLOVER_MANAGED_MODE 2>/dev/null || echo false)"

grant() {
  # $1: app role id on Microsoft Graph, $2: its name
  echo "# $2"
  echo "az rest --method POST --uri \"https://graph.microsoft.com/v1.0/servicePrincipals/$mi/appRoleAssignments\" \\"
  echo "  --headers Content-Type=application/json \\"
  echo "  --body \"{\\\"principalId\\\":\\\"$mi\\\",\\\"resourceId\\\":\\\"\$graph\\\",\\\"appRoleId\\\":\\\"$1\\\"}\""
}

cat <<MSG

Rollover's Microsoft Graph application permissions were NOT granted (grantGraphPermissions=false).
A Privileged Role Administrator (or Global Administrator) runs, in a shell signed in with
'az login' (Azure Cloud Shell works):

graph=\$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv)
MSG
grant 9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30 Application.Read.All
if [ "$managed" = "true" ]; then
  grant 18a4783c-866b-4cc7-a460-3d5e5662c884 Application.ReadWrite.OwnedBy
fi
cat <<MSG

Then 'rollover config --for apply' reports whether the grants are in place.
MSG
