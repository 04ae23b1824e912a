#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test project. Prints a closing summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
dotnet build OrleansLm.sln -c Release -nologo -v minimal

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test OrleansLm.sln -c Release --no-build 2>&1 | tee "$log" || status=$?

# dotnet test prints one summary per test assembly; add them up into one line.
awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") failed += $(i + 1)
      if ($i == "Passed:") passed += $(i + 1)
      if ($i == "Skipped:") skipped += $(i + 1)
    }
    assemblies++
  }
  END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped
        if (assemblies == 0) exit 1 }
' "$log" || status=1
exit "$status"
