#!/bin/sh
# Batch mode under Slurm (docs/batch.md#slurm): brings up a one-node cluster from
# Debian's slurm-wlm and munge (munged, slurmctld and slurmd on loopback ports,
# the config in a temporary folder, SlurmUser=root, proctrack/linuxproc,
# task/none), submits `sbatch --array=0-3` running `vtc compress --manifest`
# over a 40-input manifest (images, clips, 6 bad inputs) and checks: every good
# input has exactly one output, byte-identical to a single-process run; every bad
# one is failed in a report. Then it cancels a running array task midway
# (scancel), resubmits, and checks the run completes without redoing finished
# items. Every daemon it started is stopped by pid. Skips with a message when the
# packages are missing, it is not root, or Slurm does not come up.
# Run from the repository root: sh tests/cli_slurm.sh  (VTC=path/to/vtc)
. tests/lib.sh
. tests/batch_corpus.sh
PATH=$PATH:/usr/sbin:/sbin
need_vtc
for c in munged slurmctld slurmd sbatch squeue scancel sinfo; do need_cmd "$c" "apt-get install slurm-wlm munge"; done
need_cmd ffmpeg "apt-get install ffmpeg"
need_cmd jq "apt-get install jq"
[ "$(id -u)" -eq 0 ] || skip "the test cluster runs its daemons as root (SlurmUser=root)"

S=$T/slurm
mkdir -p "$S/state" "$S/spool"
chmod 700 "$T" "$S"
pids=""
stop_daemons() {
  [ -f "$S/up" ] && scancel --quiet --user=root 2>/dev/null
  rm -f "$S/up"
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -9 "$p" 2>/dev/null
  done
  pids=""
}
trap 'stop_daemons; rm -rf "$T"' EXIT
# the reason Slurm did not come up, with its logs, then skip (after stopping what started)
give_up() {
  for f in "$S"/*.log "$S"/*.out; do [ -s "$f" ] && { echo "  == $f"; tail -n 5 "$f" | sed 's/^/  | /'; }; done
  stop_daemons
  skip "Slurm did not start: $1"
}
port_free() { ! { command -v ss >/dev/null && ss -Htln "sport = :$1" | grep -q .; }; }
base=$((20000 + $$ % 20000))
while ! port_free "$base" || ! port_free $((base + 1)); do base=$((base + 2)); done

# munge: a fresh key, a socket in the temporary folder
dd if=/dev/urandom of="$S/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$S/munge.key"
munged -F -f --key-file="$S/munge.key" --socket="$S/munge.sock" --pid-file="$S/munged.pid" \
  --seed-file="$S/munged.seed" --log-file="$S/munged.log" >"$S/munged.out" 2>&1 &
pids="$pids $!"
i=0
while [ ! -S "$S/munge.sock" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -S "$S/munge.sock" ] || give_up "munged made no socket"

H=$(hostname -s)
cat >"$S/slurm.conf" <<EOF
ClusterName=vtctest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=vtcnode NodeHostname=$H NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=vtc Nodes=vtcnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/slurm.conf"
slurmctld -D -c -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
pids="$pids $!"
slurmd -D -N vtcnode -f "$SLURM_CONF" >"$S/slurmd.out" 2>&1 &
pids="$pids $!"
i=0
while [ "$(sinfo -h -n vtcnode -o %t 2>/dev/null)" != idle ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ "$(sinfo -h -n vtcnode -o %t 2>/dev/null)" = idle ] || give_up "the node is not idle after 30 s"
touch "$S/up"
note "a one-node cluster is up (slurmctld :$base, slurmd :$((base + 1)))"

C=$T/corpus
make_corpus "$C" || { bad "ffmpeg could not write the corpus"; finish; }
capture "$VTC" compress --manifest "$C/list.txt" --out-dir "$T/ref" $BATCH_OPTS
check_rc 1 "single-process run" && ok

# submit the array; JOB=its id. wait_job JOB: until no task is left (10 minutes at most)
submit() {
  JOB=$(sbatch --parsable --array=0-3 --chdir="$PWD" --output="$S/job-%A_%a.out" \
    --wrap="exec '$VTC_ABS' compress --manifest '$C/list.txt' --out-dir '$1' $BATCH_OPTS")
  [ -n "$JOB" ] && ok || bad "sbatch gave no job id"
}
wait_job() {
  i=0
  while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && [ "$i" -lt 6000 ]; do sleep 0.1; i=$((i+1)); done
  [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && ok || bad "job $1 still queued after 10 minutes"
}

submit "$T/s"
wait_job "$JOB"
for i in 0 1 2 3; do
  [ -s "$T/s/report.$i-of-4.jsonl" ] && ok || bad "task $i wrote no report.$i-of-4.jsonl"
  grep -q "shard $i/4 (from SLURM_ARRAY_TASK_ID=$i" "$S/job-${JOB}_$i.out" 2>/dev/null && ok ||
    { bad "task $i does not say it took its shard from Slurm"; show 5 "$S/job-${JOB}_$i.out"; }
done
check_run "$T/ref" "$T/s"

# cancel a running task midway, let the rest finish, resubmit: nothing redone
submit "$T/c"
task=""
i=0
while [ "$i" -lt 3000 ] && [ -z "$task" ]; do
  for t in 0 1 2 3; do
    r=$T/c/report.$t-of-4.jsonl
    [ -f "$r" ] && [ "$(wc -l <"$r")" -ge 2 ] && [ "$(wc -l <"$r")" -lt 8 ] &&
      [ "$(squeue -h -j "${JOB}_$t" -t R -o %i 2>/dev/null)" != "" ] && { task=$t; break; }
  done
  [ -n "$task" ] || sleep 0.05
  i=$((i+1))
done
if [ -n "$task" ]; then
  scancel "${JOB}_$task" && ok || bad "scancel ${JOB}_$task failed"
else
  note "no task was caught midway: the resubmission is checked on a finished run"
fi
wait_job "$JOB"
before_rerun "$T/c" "the cancelled task"
if [ -n "$task" ]; then
  [ "$(wc -l <"$T/finals")" -lt 34 ] && ok || bad "the cancelled task had nothing left to do"
fi
submit "$T/c"
wait_job "$JOB"
after_rerun "$T/ref" "$T/c"

stop_daemons
finish
