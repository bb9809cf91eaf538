#!/usr/bin/env bash
# A local Redis Cluster (3 masters, 3 replicas, loopback ports 7100-7105, or from $TIDELINE_CLUSTER_PORT) for tests and benchmarks.
# start: prints the seeds for REDIS_CLUSTER_NODES (reuses a running one); stop; status.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx dev/redis-cluster.ts "${1:-start}"
