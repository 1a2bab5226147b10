#!/usr/bin/env bash
# Runs every test: unit, PostgreSQL, web and end-to-end in Chromium. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prerequisites.sh --tests
dotnet build Portal.sln -c Release -nologo -v quiet -warnaserror
log=$(mktemp)
status=0
# The test kit's own unit tests (statistics), on node's test runner.
(cd wwwroot && npm test --silent) 2>&1 | tee "$log" || status=$?
# One test project at a time (-m:1): each starts its own portals and browsers, and on 2 cores running the web and
# end-to-end projects side by side starves the real-time fallbacks the end-to-end tests time.
dotnet test Portal.sln -c Release --no-build -nologo -m:1 2>&1 | tee -a "$log" || status=$?
passed=$(( $(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}') + $(grep -oE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') ))
failed=$(( $(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}') + $(grep -oE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') ))
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "Tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$skipped" -gt 0 ]; then
  echo "Skipped tests need what this machine lacks; the lab's reasons are in docs/lab-results.md."
fi
exit "$status"
