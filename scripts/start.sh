#!/usr/bin/env bash
# Starts the portal on its embedded default: its own PostgreSQL under .portal-data/, on http://127.0.0.1:5080.
# Set ConnectionStrings__Portal to use an existing PostgreSQL server instead, ASPNETCORE_URLS to listen elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prerequisites.sh
export Portal__DataDirectory="${Portal__DataDirectory:-$PWD/.portal-data}"
export ASPNETCORE_URLS="${ASPNETCORE_URLS:-http://127.0.0.1:5080}"
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Production}"
dotnet build src/Portal.Web -c Release -nologo -v quiet
echo "Portal: ${ASPNETCORE_URLS}  (Ctrl+C stops it, and its embedded PostgreSQL)"
exec dotnet src/Portal.Web/bin/Release/net10.0/Portal.Web.dll
