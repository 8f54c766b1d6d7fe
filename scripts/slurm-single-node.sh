#!/usr/bin/env bash
# Start a one-node SLURM (Debian's slurm-wlm + munge) on loopback, so the `slurm` cluster kind
# can be tested for real (tests/test_cluster_slurm.py). Run as root; safe to run again.
# No systemd needed: the daemons are started directly. Exits non-zero if anything fails.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
SPOOL=/var/spool/slurm
NODE="$(hostname -s)"

log() { echo "slurm-single-node: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root" >&2
    exit 1
fi

# 1. Packages (only when missing).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        log "SLURM is not installed and apt-get is not available" >&2
        exit 1
    fi
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. Munge: a key, and the daemon (as the munge user, which owns the key).
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null
fi

# 3. slurm.conf for this machine: CPUs as slurmd sees them, RealMemory 5% below its figure.
hw="$(slurmd -C 2>/dev/null | head -n 1 || true)"
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
cpus="$(field CPUs)"
cpus="${cpus:-$(nproc)}"
mem="$(field RealMemory)"
mem="${mem:-$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)}"
mem=$((mem * 95 / 100))
topology=""
for key in Boards SocketsPerBoard CoresPerSocket ThreadsPerCore; do
    value="$(field "$key")"
    [ -n "$value" ] && topology="$topology $key=$value"
done

install -d -m 0755 "$CONF_DIR" "$SPOOL" "$SPOOL/ctld" "$SPOOL/d" /var/log/slurm
new_conf="$(
    cat <<EOF
# Written by faultprobe scripts/slurm-single-node.sh: one node on loopback, for tests.
ClusterName=faultprobe
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus$topology RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)"

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$new_conf" ]; then
    log "writing $CONF ($cpus CPUs, RealMemory=$mem MB)"
    printf '%s\n' "$new_conf" >"$CONF"
    # A changed config needs fresh daemons; stop only those this script started (pid files).
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if running "$pidfile"; then
            pid="$(cat "$pidfile")"
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done
fi

# 4. The daemons.
if ! running /run/slurmctld.pid; then
    log "starting slurmctld"
    /usr/sbin/slurmctld
fi
if ! running /run/slurmd.pid; then
    log "starting slurmd"
    /usr/sbin/slurmd -N "$NODE"
fi

# 5. Wait for the node to be idle (resume it if an earlier run left it down or drained).
state=""
for i in $(seq 120); do
    state="$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n 1 || true)"
    case "$state" in
    idle | mix | alloc) break ;;
    down* | drain* | drng*)
        [ $((i % 10)) -eq 0 ] && scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
        ;;
    esac
    sleep 0.5
done
if [ "$state" != idle ] && [ "$state" != mix ] && [ "$state" != alloc ]; then
    log "node $NODE is '${state:-not answering}', not idle; see /var/log/slurm/" >&2
    sinfo -N -l >&2 || true
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    exit 1
fi

# 6. A job runs.
out="$(srun -N 1 -n 1 -t 1 hostname)"
log "srun hostname -> $out; node $NODE is $state"
