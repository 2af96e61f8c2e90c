#!/usr/bin/env bash
# wait_job.sh JOBID [TIMEOUT_S]: poll until every task of a job (or job array) has ended.
# Prints "JOBID: STATE[,STATE...]"; exit 0 iff all tasks COMPLETED, 1 if any did not,
# 2 if the job is unknown, 3 on timeout (default 600 s). Needs SLURM_CONF for a CI cluster.
set -uo pipefail
job=${1:?usage: wait_job.sh JOBID [TIMEOUT_S]}
end=$((SECONDS + ${2:-600}))
while :; do
  states=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | paste -sd,)
  [ -z "$states" ] && { echo "$job: unknown job"; exit 2; }
  if ! grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING' <<<"$states"; then
    echo "$job: $states"
    [ "$states" = COMPLETED ] && exit 0 || exit 1
  fi
  [ "$SECONDS" -ge "$end" ] && { echo "$job: timeout ($states)"; exit 3; }
  sleep 0.5
done
