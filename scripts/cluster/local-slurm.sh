#!/usr/bin/env bash
# A real single-node Slurm on this machine, for the cluster test (tests/tests/slurm_cluster.rs):
#   local-slurm.sh install   Debian's slurm-wlm and munge (root; the .debs cached under $1 or
#                            UNLEARN_CI_CACHE, so a second run downloads nothing)
#   local-slurm.sh start     munged, slurmctld and slurmd for localhost; waits until the node is idle
#   local-slurm.sh stop      stops the three daemons and removes the state folder
# No cgroups: proctrack/linuxproc and task/none work inside containers. Needs root.
set -euo pipefail
state="${SLURM_STATE_DIR:-/tmp/unlearn-slurm}"
conf_dir=/etc/slurm
node="$(hostname -s)"

fail() { echo "local-slurm: $*" >&2; exit 1; }

install() {
    command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
    [[ "$(id -u)" == 0 ]] || fail "installing slurm-wlm needs root (or install it yourself: apt-get install slurm-wlm munge)"
    local debs="${1:-${UNLEARN_CI_CACHE:-$HOME/.cache}}/unlearn-slurm-debs"
    mkdir -p "$debs/partial"
    local apt=(apt-get -o "Dir::Cache::archives=$debs" install -y --no-install-recommends slurm-wlm munge)
    DEBIAN_FRONTEND=noninteractive timeout 300 "${apt[@]}" >"$state.apt.log" 2>&1 \
        || { timeout 120 apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive timeout 300 "${apt[@]}" >"$state.apt.log" 2>&1; } \
        || { tail -5 "$state.apt.log" >&2; fail "apt-get could not install slurm-wlm and munge"; }
}

write_conf() {
    local cpus mem
    cpus="$(nproc)"
    # Leave the kernel some memory; Slurm refuses a node that reports less than it is told.
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
    mkdir -p "$conf_dir" "$state/ctld" "$state/d" "$state/log"
    cat >"$conf_dir/slurm.conf" <<EOF
# Written by scripts/cluster/local-slurm.sh: one node, no cgroups, state under $state.
ClusterName=unlearn-local
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits out the credential lifetime before it may start again (120 s by default;
# starting it sooner fails with "Job credential revoked"): short here, for the requeue test.
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
MpiDefault=none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    [[ "$(id -u)" == 0 ]] || fail "starting slurmctld and slurmd needs root"
    command -v slurmctld >/dev/null || fail "slurm-wlm is not installed (run: $0 install)"
    stop quiet
    write_conf
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    [[ -s /etc/munge/munge.key ]] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
    chmod 0400 /etc/munge/munge.key
    # munged refuses to run as root unless told to; no munge user exists in a bare container.
    munged --force >/dev/null 2>&1 || fail "munged did not start"
    slurmctld || fail "slurmctld did not start ($(tail -3 "$state/log/slurmctld.log" 2>/dev/null))"
    slurmd || fail "slurmd did not start ($(tail -3 "$state/log/slurmd.log" 2>/dev/null))"
    for _ in $(seq 60); do
        if [[ "$(sinfo -h -n "$node" -o %t 2>/dev/null)" == idle ]]; then
            echo "local-slurm: node $node idle ($(sinfo -V))"
            return 0
        fi
        sleep 1
    done
    tail -5 "$state/log/slurmctld.log" "$state/log/slurmd.log" >&2 || true
    fail "node $node did not become idle within 60 s"
}

stop() {
    local pid
    for file in "$state/slurmd.pid" "$state/slurmctld.pid"; do
        [[ -f "$file" ]] && pid="$(cat "$file")" && kill "$pid" 2>/dev/null || true
    done
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
    sleep 1
    [[ "${1:-}" == quiet ]] || { rm -rf "$state"; echo "local-slurm: stopped"; }
}

case "${1:-}" in
    install) install "${2:-}" ;;
    start) start ;;
    stop) stop ;;
    *) fail "usage: $0 install [CACHE_DIR] | start | stop" ;;
esac
