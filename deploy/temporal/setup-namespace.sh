#!/bin/sh
# One-shot job (temporalio/admin-tools): Rekindle's namespace and the search attributes ops
# filter by in the Web UI (core/domain/search_attributes.py). Safe to run again.
set -eu
NS="${REKINDLE_NAMESPACE:-rekindle}"
temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$NS" --retention "${RETENTION:-30d}"
for attribute in RiskTier=Keyword EngagementScore=Double LastOrderAt=Datetime AwaitingApproval=Bool HoldoutGroup=Bool NeedsAttention=Bool PolicyVersion=Int ModelVersion=Int; do
  temporal operator search-attribute create --namespace "$NS" \
    --name "${attribute%%=*}" --type "${attribute#*=}" 2>/dev/null \
    || echo "search attribute ${attribute%%=*} exists"
done
echo "namespace $NS is ready"
