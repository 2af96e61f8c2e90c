#!/usr/bin/env bash
# A real one-node SLURM cluster for CI (Debian 12, run as root, no systemd needed).
#
#   scripts/ci/ci-slurm.sh up     install slurm + munge if missing, start the daemons, wait for an idle node
#   scripts/ci/ci-slurm.sh down   cancel this cluster's jobs, stop exactly the daemons `up` started
#
# Environment: SLURM_CI_DIR (default /tmp/slurm-ci): config, state, logs and pid files;
# SLURM_CI_CPUS (default 2): CPUs of the node, i.e. how many 1-CPU jobs run at once.
# Clients need `export SLURM_CONF=$SLURM_CI_DIR/etc/slurm.conf` (printed by `up`).
# Pitfalls: keep proctrack/linuxproc and task/none (cgroup plugins abort job steps here yet
# report COMPLETED); kill_invalid_depend makes a failed stage cancel its dependants instead of
# leaving them PENDING; job ids restart at 1 on each `up`.
set -euo pipefail
D=${SLURM_CI_DIR:-/tmp/slurm-ci}
export SLURM_CONF=$D/etc/slurm.conf

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null && return
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
  local host mem
  host=$(hostname -s)
  mem=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 9 / 10 ))
  cat > "$SLURM_CONF" <<CONF
ClusterName=ci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
InactiveLimit=0
MinJobAge=3600
KillWait=5
Waittime=0
NodeName=$host CPUs=${SLURM_CI_CPUS:-2} RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {  # start NAME CMD...: run a daemon in the background, record its pid
  local name=$1; shift
  "$@" >"$D/log/$name.out" 2>&1 &
  echo $! > "$D/run/$name.bgpid"
}

up() {
  down
  install_packages
  rm -rf "$D/state" "$D/spool"
  mkdir -p "$D/etc" "$D/state" "$D/spool" "$D/log" "$D/run"
  write_conf
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
  start slurmctld /usr/sbin/slurmctld -D -c -f "$SLURM_CONF"
  for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
  start slurmd /usr/sbin/slurmd -D -c -f "$SLURM_CONF"
  for _ in $(seq 150); do [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break; sleep 0.2; done
  if [ "$(sinfo -h -o %t)" != idle ]; then
    echo "ci-slurm: node not idle" >&2; sinfo >&2; tail -n 30 "$D"/log/*.log >&2; exit 1
  fi
  sinfo
  echo "export SLURM_CONF=$SLURM_CONF"
}

down() {
  local f p
  if [ -f "$D/run/slurmctld.bgpid" ] && kill -0 "$(cat "$D/run/slurmctld.bgpid")" 2>/dev/null; then
    scancel --state=PENDING,RUNNING,SUSPENDED --partition=debug 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h -t RUNNING,COMPLETING 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  for d in slurmd slurmctld munged; do
    f=$D/run/$d.bgpid
    [ -f "$f" ] || continue
    p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  up|down) "$1" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
