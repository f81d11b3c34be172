#!/bin/sh
# One-shot (temporalio/admin-tools), once the server is healthy: makes sure imflow's namespace exists.
# imflow registers its own search attributes (ChannelId, ConversationId, SenderId, PipelineId) at start.
set -eu
ns=${TEMPORAL_NAMESPACE:-default}
if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  # Retention bounds how long a finished message run blocks a re-delivery by its id (the conversation's
  # seen set catches recent ones anyway) and how long runs stay inspectable in the Temporal UI.
  temporal operator namespace create --namespace "$ns" --retention "${TEMPORAL_RETENTION:-7d}"
fi
