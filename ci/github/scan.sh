#!/usr/bin/env bash
# Run `ledgergate scan repo` for the GitHub Action: SARIF for code scanning, the Markdown
# summary to $GITHUB_STEP_SUMMARY, counts and the exit reason to $GITHUB_OUTPUT. Never
# fails itself: the action's Gate step exits with the scan's code, after these are written.
set -uo pipefail

work="${RUNNER_TEMP:-$(mktemp -d)}"
json="$work/ledgergate.json"
summary="$work/ledgergate.md"
read -r -a paths <<<"${LG_PATHS:-.}"
args=(scan repo "${paths[@]}" --format md --output "$summary" --json "$json")
[ -n "${LG_BASE:-}" ] && args+=(--base "$LG_BASE")
[ -n "${LG_CONFIG:-}" ] && args+=(--config "$LG_CONFIG")
[ -n "${LG_FAIL_ON:-}" ] && args+=(--fail-on "$LG_FAIL_ON")
[ -n "${LG_SARIF:-}" ] && args+=(--sarif "$LG_SARIF")

echo "ledgergate ${args[*]}"
ledgergate "${args[@]}"
code=$?

case "$code" in
  0) reason=pass ;;
  1) reason=findings ;;
  2) reason=usage-error ;;
  3) reason=internal-error ;;
  4) reason=incomplete ;;
  *) reason=interrupted ;;
esac

if [ -f "$summary" ]; then
  cat "$summary"
  cat "$summary" >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
else
  printf '## Ledgergate\n\nNo report: the scan stopped with exit %s (%s); see the job log.\n' \
    "$code" "$reason" >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
fi

counts="failed=0 errors=0 waived=0 passed=0"
if [ -f "$json" ]; then
  counts=$(python3 - "$json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1], encoding="utf-8")).get("summary", {})
print(" ".join(f"{k}={int(summary.get(s, 0))}" for k, s in
      (("failed", "fail"), ("errors", "error"), ("waived", "waived"), ("passed", "pass"))))
PY
  ) || counts="failed=0 errors=0 waived=0 passed=0"
fi
sarif=""
[ -n "${LG_SARIF:-}" ] && [ -f "$LG_SARIF" ] && sarif="$LG_SARIF"
{
  echo "exit-code=$code"
  echo "exit-reason=$reason"
  for kv in $counts; do echo "$kv"; done
  echo "sarif-file=$sarif"
  echo "category=${LG_CATEGORY:-ledgergate}"
} >>"$GITHUB_OUTPUT"
echo "ledgergate: exit $code ($reason); $counts"
exit 0
