#!/bin/bash
# Proof that standpoint runs unchanged under a real batch engine: a single-node Slurm cluster
# (Debian's slurm-wlm; controller and compute node both on localhost, a private munged), a job
# array of `standpoint analyze` tasks sharded only by Slurm's own variables, and an afterok merge
# job, all through scripts/slurm/submit.sh. The merged result is compared byte for byte (`cmp`)
# with a plain single run; no tolerance is applied.
#
#   scripts/engine-slurm-test.sh            # as root: installs slurm-wlm if missing, starts daemons
#
# Steps:
#   1. reference: a plain `standpoint analyze` of the inputs (no shard variables)
#   2. array: submit.sh, --array=0-(N-1) + merge --dependency=afterok; every task COMPLETED, every
#      shard-I-of-N/ there, merged/{statements.jsonl, documents.jsonl, actors.json, report.md}
#      compared with the reference; then the same N shards run by hand (`--shard I/N`, no Slurm)
#      and merged: must be byte-identical to what Slurm produced
#   2b. (STANDPOINT_TEST_ENV=1) a plain, non-array sbatch job gives the unsharded single run; and
#      the Kubernetes variables (JOB_COMPLETION_INDEX + STANDPOINT_SHARD_COUNT, set by hand: no
#      cluster here) select the same shards as the Slurm array
#   3. (STANDPOINT_TEST_OFFSET=1) another N, with array indices not starting at 0 (--array=5-7:
#      shard = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN), compared with the reference
#   4. (STANDPOINT_TEST_REQUEUE=1) a task killed in mid-run by `scontrol requeue` (what pre-emption
#      of a --requeue job does) after it wrote a checkpoint restarts with --resume; the merge must be
#      byte-identical to the same shards run uninterrupted
#   5. (STANDPOINT_TEST_FAILURE=1) a task that exits 2 leaves the array FAILED and the merge job
#      cancelled (afterok never satisfied), no merged/ written; `standpoint merge` with shards
#      missing exits 2
#   6. (only when 2 or 3 found numbers-only differences; STANDPOINT_TEST_CONTROL=0 skips it) the
#      reference and the array again with --batch-size 1, to show whether the differences come
#      from batch composition (padding) rather than from the engine
# Exit status: 0 when every comparison is byte-identical and every check holds; 1 when a check
# failed or an output differs in more than numbers; 3 when the only failures are outputs that
# differ in numbers alone (floating-point noise: the diff and the largest difference are shown).
# It builds nothing.
#
# Environment:
#   STANDPOINT_BIN           binary under test (default: target/release/standpoint); copied first,
#                            so a rebuild during the test does not change what runs
#   STANDPOINT_TEST_MODEL    model for every run (default: tests/fixtures/nli/bert, the tiny random
#                            NLI model: seconds); `default` for the real default model (minutes)
#   STANDPOINT_TEST_INPUTS   inputs, split on spaces (default: corpus/ plus, when present,
#                            ../shared/data/corpus/press_releases_nato_dec2021_feb2022.jsonl)
#   STANDPOINT_TEST_ANALYZE_ARGS  extra options for every analyze run, split on spaces
#                            (e.g. "--batch-size 1")
#   STANDPOINT_TEST_SHARDS   array size of step 2 (default 4)
#   STANDPOINT_TEST_ENV / _OFFSET / _REQUEUE / _FAILURE / _CONTROL   1 (default) or 0: steps 2b-6
#   STANDPOINT_TEST_TIMEOUT  seconds to wait for each job (default 1800)
#   STANDPOINT_TEST_NICE     nice level of the daemons, and so of every job (default 10)
#   STANDPOINT_TEST_PORT     slurmctld port, slurmd gets the next one (default: first free from 16817)
#   STANDPOINT_TEST_KEEP     1: keep the work directory (it is kept anyway when a check fails)
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
slurm_scripts="$repo/scripts/slurm"
nice_level="${STANDPOINT_TEST_NICE:-10}"
shards="${STANDPOINT_TEST_SHARDS:-4}"
timeout_s="${STANDPOINT_TEST_TIMEOUT:-1800}"
model="${STANDPOINT_TEST_MODEL:-$repo/tests/fixtures/nli/bert}"
compare_files=(statements.jsonl documents.jsonl actors.json report.md)

t_script=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $t_script" | bc)" "$*"; }
die() { log "FAIL: $*"; exit 1; }
elapsed() { echo "scale=2; ($2 - $1) / 1" | bc; }

# A Slurm environment from outside (running this inside a job) must not leak into the runs.
for v in $(compgen -e | grep -E '^(SLURM_|SBATCH_|SRUN_|SALLOC_)'); do unset "$v"; done
unset JOB_COMPLETION_INDEX STANDPOINT_SHARD_COUNT STANDPOINT_OUT STANDPOINT_MODEL

[[ $(id -u) == 0 ]] || die "run as root (it installs slurm-wlm and starts munged, slurmctld and slurmd)"

# ---------------------------------------------------------------------------------------------
# Slurm: install, configure, start.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y slurm-wlm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y slurm-wlm >/dev/null; } \
        || die "apt-get install slurm-wlm failed"
fi
command -v bc >/dev/null || apt-get install -y bc >/dev/null 2>&1 || die "bc is needed"

work="$(mktemp -d /tmp/standpoint-slurm-test.XXXXXX)"
chmod 755 "$work"        # munged wants its socket's directories executable by everyone
sd="$work/slurm"
mkdir -p "$sd/state" "$sd/spool" "$sd/log" "$work/bin" "$work/munge/run"
mkdir -m 700 "$work/munge/etc" "$work/munge/lib" "$work/munge/log"
status=1

cleanup() {
    local rc=$?
    if [[ -f "$sd/slurm.conf" ]] && [[ -f "$sd/slurmctld.pid" ]]; then
        local jobs; jobs="$(squeue -h -o %A 2>/dev/null | sort -u)"
        if [[ -n "$jobs" ]]; then
            scancel $jobs 2>/dev/null
            for _ in $(seq 30); do [[ -z "$(squeue -h 2>/dev/null)" ]] && break; sleep 1; done
        fi
    fi
    for p in "$sd/slurmd.pid" "$sd/slurmctld.pid" "$work/munge/run/munged.pid"; do
        [[ -f "$p" ]] && kill "$(cat "$p")" 2>/dev/null
    done
    sleep 1
    if [[ $status == 0 && "${STANDPOINT_TEST_KEEP:-0}" != 1 ]]; then
        rm -rf "$work"
    else
        echo "work directory kept: $work (Slurm logs in $sd/log, job logs in $work/*/logs)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="${STANDPOINT_TEST_PORT:-}"
if [[ -z "$port" ]]; then
    for port in $(seq 16817 2 16899); do port_free "$port" && port_free $((port + 1)) && break; done
fi

dd if=/dev/urandom of="$work/munge/etc/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/etc/munge.key"
munge_socket="$work/munge/run/munge.socket"
munged --socket="$munge_socket" --key-file="$work/munge/etc/munge.key" \
    --log-file="$work/munge/log/munged.log" --pid-file="$work/munge/run/munged.pid" \
    --seed-file="$work/munge/lib/munged.seed" || die "munged did not start: $(tail -n 3 "$work/munge/log/munged.log")"

cpus="$(nproc)"
mem_mb=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat >"$sd/slurm.conf" <<EOF
# Single-node Slurm for engine-slurm-test.sh: controller and compute node on localhost.
ClusterName=standpoint-test
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$sd/state
SlurmdSpoolDir=$sd/spool
SlurmctldPidFile=$sd/slurmctld.pid
SlurmdPidFile=$sd/slurmd.pid
SlurmctldLogFile=$sd/log/slurmctld.log
SlurmdLogFile=$sd/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
KillWait=10
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$sd/slurm.conf"

slurmctld -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -n 5 "$sd/log/slurmctld.log")"
# slurmd's niceness is inherited by every job it starts: the runs stay polite to the rest of the machine.
nice -n "$nice_level" slurmd -f "$SLURM_CONF" -N localhost || die "slurmd did not start: $(tail -n 5 "$sd/log/slurmd.log")"
for _ in $(seq 60); do [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && break; sleep 1; done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] || die "node not idle: $(sinfo 2>&1); $(tail -n 5 "$sd/log/slurmctld.log")"
[[ "$(timeout 60 srun -N1 hostname 2>&1)" == "$(hostname)" ]] || die "srun hostname failed"
log "slurm $(sinfo -V | awk '{print $2}') up: ports $port/$((port + 1)), node localhost CPUs=$cpus RealMemory=$mem_mb, $(sinfo -h -o '%P %a %T %D')"

# ---------------------------------------------------------------------------------------------
# The binary and the inputs.
src_bin="${STANDPOINT_BIN:-$repo/target/release/standpoint}"
[[ -x "$src_bin" ]] || die "no binary at $src_bin (build with cargo build --release, or set STANDPOINT_BIN)"
cp "$src_bin" "$work/bin/standpoint"     # a rebuild during the test does not change what runs
export STANDPOINT_BIN="$work/bin/standpoint"
"$STANDPOINT_BIN" merge --help >/dev/null 2>&1 || die "$src_bin has no \`merge\` subcommand"
grep -q -- '--resume' <("$STANDPOINT_BIN" analyze --help 2>&1) || die "$src_bin analyze has no --resume"

if [[ -n "${STANDPOINT_TEST_INPUTS:-}" ]]; then
    read -r -a inputs <<<"$STANDPOINT_TEST_INPUTS"
else
    inputs=("$repo/corpus")
    nato="$repo/../shared/data/corpus/press_releases_nato_dec2021_feb2022.jsonl"
    [[ -f "$nato" ]] && inputs+=("$(realpath "$nato")")
fi
model_args=(--model "$model")
if [[ "$model" == default ]]; then
    "$repo/models/fetch-encoder.sh" || die "models/fetch-encoder.sh failed"
    model_args+=(--offline)
fi
read -r -a test_args <<<"${STANDPOINT_TEST_ANALYZE_ARGS:-}"
analyze_args=("${inputs[@]}" "${model_args[@]}" "${test_args[@]}")
log "binary $src_bin ($("$STANDPOINT_BIN" --version)), model $model"
log "inputs: ${inputs[*]}${test_args[*]:+; extra analyze options: ${test_args[*]}}"

# ---------------------------------------------------------------------------------------------
job_field() { scontrol show job -o "$1" 2>/dev/null | head -n 1 | grep -o " $2=[^ ]*" | cut -d= -f2-; }

# wait_job ID: until the job (all of an array's tasks) has left the queue; prints its final states.
wait_job() {
    local id="$1" t0; t0=$(date +%s)
    while :; do
        local states; states="$(scontrol show job -o "$id" 2>/dev/null | grep -o ' JobState=[^ ]*' | cut -d= -f2 | sort | uniq -c | xargs)"
        if [[ -n "$states" && ! "$states" =~ PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|SUSPENDED ]]; then
            echo "$states"; return 0
        fi
        if [[ "$(scontrol show job -o "$id" 2>/dev/null)" == *Reason=DependencyNeverSatisfied* ]]; then
            echo "PENDING(DependencyNeverSatisfied)"; return 0
        fi
        (( $(date +%s) - t0 > timeout_s )) && { echo "TIMEOUT($states)"; return 1; }
        sleep 1
    done
}

# timings DIR: array wall time and merge time from the task logs (start/end stamps of the scripts).
task_wall() { grep -ho 'rc=[0-9]* start=[0-9.]* end=[0-9.]*' "$1"/logs/analyze-*.out | tail -n +1 |
    awk -F'[= ]' '{ if (min == "" || $4 < min) min = $4; if ($6 > max) max = $6 } END { printf "%.2f", max - min }'; }
merge_wall() { grep -ho 'rc=[0-9]* start=[0-9.]* end=[0-9.]*' "$1"/logs/merge-*.out | tail -n 1 | awk -F'[= ]' '{ printf "%.2f", $6 - $4 }'; }

# compare REF GOT: cmp every output file; on a difference, show it. Returns 0 when all are
# identical, 3 when the differences are in numbers alone, 1 otherwise. No tolerance is applied.
compare() {
    local ref="$1" got="$2" worst=0
    for f in "${compare_files[@]}"; do
        if [[ ! -f "$got/$f" ]]; then
            log "    $f: MISSING in $got"; worst=1
        elif cmp -s "$ref/$f" "$got/$f"; then
            log "    $f: identical ($(stat -c %s "$ref/$f") bytes, $(wc -l <"$ref/$f") lines)"
        else
            log "    $f: DIFFERS: $(cmp "$ref/$f" "$got/$f" 2>&1 | head -n 1)"
            diff <(fold -w 240 "$ref/$f") <(fold -w 240 "$got/$f") | head -n 12 | cut -c 1-250 | sed 's/^/        /'
            local what
            what="$(python3 - "$ref/$f" "$got/$f" <<'PY' 2>&1
import re, sys
a, b = (open(p).read() for p in sys.argv[1:])
num = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')
if num.sub('#', a) != num.sub('#', b):
    print('TEXT: more than numbers differ (text, labels or structure)')
else:
    na, nb = num.findall(a), num.findall(b)
    d = [abs(float(x) - float(y)) for x, y in zip(na, nb) if x != y]
    lines = sum(1 for x, y in zip(a.splitlines(), b.splitlines()) if x != y)
    print(f'NUMBERS: only numbers differ: {len(d)} of {len(na)} numbers on {lines} lines, largest absolute difference {max(d):.3g}')
PY
)"
            log "      ${what#*: }"
            if [[ "$what" == NUMBERS:* ]]; then [[ $worst == 0 ]] && worst=3; else worst=1; fi
        fi
    done
    return $worst
}

# check_jobs DIR N ARRAY_ID MERGE_ID REF: task and merge states, the shards, then compare with REF.
# Returns like compare.
check_run() {
    local dir="$1" n="$2" aid="$3" mid="$4" ref="$5" ok=0 astates mstates
    astates="$(scontrol show job -o "$aid" | grep -o ' JobState=[^ ]*' | cut -d= -f2 | sort | uniq -c | xargs)"
    mstates="$(job_field "$mid" JobState) exit $(job_field "$mid" ExitCode)"
    log "  array job $aid tasks: $astates; merge job $mid: $mstates"
    [[ "$astates" == "$n COMPLETED" ]] || { log "  not every task COMPLETED"; ok=1; }
    [[ "$mstates" == "COMPLETED exit 0:0" ]] || { log "  merge job did not complete"; ok=1; }
    for ((i = 0; i < n; i++)); do
        for f in statements.jsonl documents.jsonl aggregate.json shard.json; do
            [[ -f "$dir/shard-$i-of-$n/$f" ]] || { log "  missing $dir/shard-$i-of-$n/$f"; ok=1; }
        done
    done
    local extra; extra="$(find "$dir" -maxdepth 1 -name 'shard-*' ! -name "shard-*-of-$n" | xargs)"
    [[ -z "$extra" ]] || { log "  unexpected shard directories: $extra"; ok=1; }
    local counts="" docs=0 c
    for ((i = 0; i < n; i++)); do
        c=$(wc -l <"$dir/shard-$i-of-$n/documents.jsonl" 2>/dev/null || echo 0); counts+="$c "; docs=$((docs + c))
    done
    log "  documents per shard: ${counts}(sum $docs; reference $(wc -l <"$ref/documents.jsonl"))"
    grep -h '^standpoint-task.*task_id' "$dir"/logs/analyze-*.out | sed 's/^/    /;s/ start=.*//'
    log "  merged vs reference:"
    compare "$ref" "$dir/merged"; local c=$?
    [[ $ok == 0 ]] && return $c
    return 1
}

# submit_and_wait DIR N [VAR=value... for submit.sh] -- ANALYZE ARGS: sets sub_aid, sub_mid, sub_e2e.
submit_and_wait() {
    local dir="$1" n="$2"; shift 2
    local envs=(); while [[ $# -gt 0 && "$1" != -- ]]; do envs+=("$1"); shift; done; shift
    local ids t0; t0=$(date +%s.%N)
    ids="$(env "${envs[@]}" "$slurm_scripts/submit.sh" "$n" "$dir" "$@")" || die "submit.sh failed"
    sub_aid="$(sed -n 's/^ARRAY_JOB_ID=//p' <<<"$ids")"; sub_mid="$(sed -n 's/^MERGE_JOB_ID=//p' <<<"$ids")"
    log "  submitted: array job $sub_aid, merge job $sub_mid"
    local st; st="$(wait_job "$sub_mid")" || die "merge job $sub_mid still not finished after ${timeout_s}s ($st)"
    sub_e2e=$(elapsed "$t0" "$(date +%s.%N)")
}

# reference DIR ARGS...: a plain run; prints its wall time into ref_wall.
reference() {
    local dir="$1"; shift
    local t0; t0=$(date +%s.%N)
    nice -n "$nice_level" "$STANDPOINT_BIN" analyze "$@" --quiet --out "$dir" 2>"$dir.log" \
        || { cat "$dir.log"; die "reference run into $dir failed"; }
    ref_wall=$(elapsed "$t0" "$(date +%s.%N)")
    [[ -z "$(ls -d "$dir"/shard-* 2>/dev/null)" ]] || die "the plain run wrote shard directories"
}

# by_hand DIR N ARGS...: the N shards run one after another with --shard I/N (no Slurm), merged.
by_hand() {
    local dir="$1" n="$2"; shift 2
    for ((i = 0; i < n; i++)); do
        STANDPOINT_THREADS=1 nice -n "$nice_level" "$STANDPOINT_BIN" analyze "$@" --quiet --shard "$i/$n" --out "$dir" 2>>"$dir.log" \
            || { cat "$dir.log"; die "shard $i/$n by hand failed"; }
    done
    "$STANDPOINT_BIN" merge "$dir" --out "$dir/merged" 2>>"$dir.log" || { cat "$dir.log"; die "merge by hand failed"; }
}

verdicts=()     # "NAME VERDICT details"
verdict() {     # verdict NAME RC DETAILS...
    local name="$1" rc="$2"; shift 2
    local v; case $rc in 0) v=PASS ;; 3) v=NUMBERS-DIFFER ;; *) v=FAIL ;; esac
    verdicts+=("$name: $v; $*")
    log "  => ${verdicts[-1]}"
}

# 1. Reference.
log "1. reference: plain single run (no shard variables)"
reference "$work/ref" "${analyze_args[@]}"
log "  $(grep -m1 '^documents in' "$work/ref.log")"
log "  $(grep -m1 -E '^(sentences|statements)' "$work/ref.log")"
log "  $(grep -m1 '^time:' "$work/ref.log" | sed 's/; wrote.*//')"
log "  reference wall time ${ref_wall}s"
ref_wall_main=$ref_wall

# 2. The array + afterok merge.
log "2. job array of $shards tasks + afterok merge (scripts/slurm/submit.sh)"
submit_and_wait "$work/array" "$shards" -- "${analyze_args[@]}"
check_run "$work/array" "$shards" "$sub_aid" "$sub_mid" "$work/ref"; rc=$?
verdict "array vs single run" $rc "array job $sub_aid ($shards tasks, 1 CPU each), merge job $sub_mid;" \
    "array wall $(task_wall "$work/array")s, merge $(merge_wall "$work/array")s, submit to merged ${sub_e2e}s (single run ${ref_wall_main}s)"
numbers_only=0; [[ $rc == 3 ]] && numbers_only=1
log "  the same $shards shards by hand (--shard I/$shards, no Slurm), merged, vs the Slurm result:"
by_hand "$work/hand" "$shards" "${analyze_args[@]}"
compare "$work/array/merged" "$work/hand/merged"; rc=$?
verdict "Slurm vs --shard by hand" $rc "what Slurm's variables selected equals --shard I/$shards"

# 2b. The other ways standpoint reads its shard from the environment.
if [[ "${STANDPOINT_TEST_ENV:-1}" == 1 ]]; then
    log "2b. a plain (non-array) sbatch job: SLURM_JOB_ID but no array variables -> one unsharded run"
    plain="$work/plain-job"; mkdir -p "$plain"
    printf -v cmdline '%q ' "$STANDPOINT_BIN" analyze "${analyze_args[@]}" --quiet --out "$plain/out"
    pid="$(sbatch --parsable --output="$plain/job.out" --wrap "$cmdline")" || die "sbatch failed"
    st="$(wait_job "$pid")"
    log "  job $pid: $st exit $(job_field "$pid" ExitCode); shard directories: $(ls -d "$plain"/out/shard-* 2>/dev/null | wc -l)"
    ok=0
    [[ "$st" == "1 COMPLETED" ]] || ok=1
    [[ -z "$(ls -d "$plain"/out/shard-* 2>/dev/null)" ]] || { log "  a plain job wrote shards"; ok=1; }
    compare "$work/ref" "$plain/out"; rc=$?
    [[ $ok == 0 ]] || rc=1
    verdict "plain sbatch job vs single run" $rc "job $pid (SLURM_JOB_ID set, no SLURM_ARRAY_*): unsharded"

    log "2c. the Kubernetes Indexed Job variables (JOB_COMPLETION_INDEX, STANDPOINT_SHARD_COUNT=$shards), no Kubernetes: processes run by hand"
    k8s="$work/k8s-env"
    for ((i = 0; i < shards; i++)); do
        JOB_COMPLETION_INDEX=$i STANDPOINT_SHARD_COUNT=$shards STANDPOINT_THREADS=1 nice -n "$nice_level" \
            "$STANDPOINT_BIN" analyze "${analyze_args[@]}" --quiet --resume --out "$k8s" 2>>"$k8s.log" \
            || { cat "$k8s.log"; die "index $i failed"; }
    done
    "$STANDPOINT_BIN" merge "$k8s" --out "$k8s/merged" 2>>"$k8s.log" || { cat "$k8s.log"; die "merge failed"; }
    log "  shard directories: $(cd "$k8s" && ls -d shard-* | xargs)"
    compare "$work/array/merged" "$k8s/merged"; rc=$?
    verdict "Kubernetes index variables vs Slurm array" $rc "JOB_COMPLETION_INDEX=0..$((shards - 1)) select the same shards as the Slurm array"
fi

# 3. Another N, array indices not starting at 0.
if [[ "${STANDPOINT_TEST_OFFSET:-1}" == 1 ]]; then
    log "3. job array --array=5-7 (3 tasks, SLURM_ARRAY_TASK_MIN=5) + afterok merge"
    submit_and_wait "$work/offset" 3 STANDPOINT_ARRAY_FIRST=5 -- "${analyze_args[@]}"
    check_run "$work/offset" 3 "$sub_aid" "$sub_mid" "$work/ref"; rc=$?
    [[ $rc == 3 ]] && numbers_only=1
    verdict "offset array 5-7 vs single run" $rc "array job $sub_aid, merge job $sub_mid;" \
        "array wall $(task_wall "$work/offset")s, merge $(merge_wall "$work/offset")s, submit to merged ${sub_e2e}s"
fi

# 4. Requeue in mid-run.
if [[ "${STANDPOINT_TEST_REQUEUE:-1}" == 1 ]]; then
    log "4. requeue: a task killed in mid-run (scontrol requeue) resumes from its checkpoint"
    # Small chunks and a checkpoint after each, so that there is a checkpoint within the first
    # second. The reference is the same two shards run uninterrupted with the same options.
    rq_args=("${analyze_args[@]}" --checkpoint-every 0 --chunk-statements 128)
    rq="$work/requeue"
    ids="$(STANDPOINT_ARRAY_THROTTLE=1 "$slurm_scripts/submit.sh" 2 "$rq" "${rq_args[@]}")" || die "submit.sh failed"
    aid="$(sed -n 's/^ARRAY_JOB_ID=//p' <<<"$ids")"; mid="$(sed -n 's/^MERGE_JOB_ID=//p' <<<"$ids")"
    log "  submitted: array job $aid (2 tasks, one at a time), merge job $mid"
    requeued=0
    for _ in $(seq $((timeout_s * 10))); do
        state="$(job_field "${aid}_0" JobState)"
        if [[ "$state" == RUNNING && -s "$rq/shard-0-of-2/checkpoint.json" ]]; then
            log "  task ${aid}_0 running, checkpoint written: $(wc -l <"$rq/shard-0-of-2/documents.jsonl") documents, $(wc -l <"$rq/shard-0-of-2/statements.jsonl") statements so far; scontrol requeue ${aid}_0"
            scontrol requeue "${aid}_0" && requeued=1
            # Slurm holds a requeued job back for about two minutes (Reason=BeginTime); on a real
            # cluster that is only a delay, here it is cut short.
            for _ in $(seq 20); do [[ "$(job_field "${aid}_0" JobState)" == PENDING ]] && break; sleep 0.5; done
            log "  task ${aid}_0 now $(job_field "${aid}_0" JobState) Reason=$(job_field "${aid}_0" Reason) EligibleTime=$(job_field "${aid}_0" EligibleTime); scontrol update StartTime=now"
            scontrol update JobId="${aid}_0" StartTime=now || true
            break
        fi
        [[ "$state" == COMPLETED || "$state" == FAILED ]] && break
        sleep 0.1
    done
    st="$(wait_job "$mid")" || die "merge job $mid still not finished after ${timeout_s}s ($st)"
    restarts="$(job_field "${aid}_0" Restarts)"
    grep -v '^+ ' "$rq/logs/analyze-${aid}_0.out" | sed 's/^/    task 0: /;s/ start=.*//'
    ok=0
    [[ $requeued == 1 && "$restarts" -ge 1 ]] || { log "  task 0 was not requeued in mid-run (it finished too soon?): Restarts=$restarts"; ok=1; }
    grep -q 'restarts=1 ' "$rq/logs/analyze-${aid}_0.out" || { log "  no second start of task 0 in its log"; ok=1; }
    grep -qi 'resumed' "$rq/logs/analyze-${aid}_0.out" || { log "  the second start did not say it resumed"; ok=1; }
    log "  array job $aid: $(scontrol show job -o "$aid" | grep -o ' JobState=[^ ]*' | cut -d= -f2 | xargs); merge job $mid: $(job_field "$mid" JobState) exit $(job_field "$mid" ExitCode)"
    [[ "$(job_field "$mid" JobState)" == COMPLETED ]] || ok=1
    log "  requeued run vs the same shards uninterrupted (by hand):"
    by_hand "$work/requeue-hand" 2 "${rq_args[@]}"
    compare "$work/requeue-hand/merged" "$rq/merged"; rc=$?
    [[ $ok == 0 ]] || rc=1
    verdict "requeue + --resume vs uninterrupted" $rc "array job $aid, task ${aid}_0 restarts $restarts, merge job $mid;" \
        "array wall $(task_wall "$rq")s (with the requeue), merge $(merge_wall "$rq")s"
fi

# 5. Failures propagate.
if [[ "${STANDPOINT_TEST_FAILURE:-1}" == 1 ]]; then
    log "5. failure: tasks exiting 2 -> array FAILED, merge cancelled; merge with shards missing exits 2"
    ok=0
    ids="$("$slurm_scripts/submit.sh" 2 "$work/failing" "$work/no-such-input.jsonl" "${model_args[@]}")" || die "submit.sh failed"
    aid="$(sed -n 's/^ARRAY_JOB_ID=//p' <<<"$ids")"; mid="$(sed -n 's/^MERGE_JOB_ID=//p' <<<"$ids")"
    wait_job "$aid" >/dev/null; st="$(wait_job "$mid")"
    astates="$(scontrol show job -o "$aid" | grep -o ' \(JobState\|ExitCode\)=[^ ]*' | cut -d= -f2 | paste -d' ' - - | sort | uniq -c | xargs)"
    log "  array job $aid: $astates; merge job $mid: $st (Reason=$(job_field "$mid" Reason))"
    [[ "$astates" == "2 FAILED 2:0" ]] || { log "  expected both tasks FAILED with exit code 2"; ok=1; }
    [[ "$st" == *CANCELLED* || "$st" == *DependencyNeverSatisfied* ]] || { log "  merge job was not cancelled"; ok=1; }
    [[ ! -e "$work/failing/merged" ]] || { log "  a merged result was written"; ok=1; }
    grep -h -m1 -i 'error' "$work"/failing/logs/analyze-*_0.out | sed 's/^/    task 0: /'
    partial="$work/partial"; mkdir -p "$partial"
    cp -r "$work/array/shard-0-of-$shards" "$partial/"
    "$STANDPOINT_BIN" merge "$partial" --out "$partial/merged" 2>"$partial.log"; mrc=$?
    log "  merge of shard 0 of $shards alone: exit $mrc: $(head -n 1 "$partial.log")"
    [[ $mrc == 2 ]] || { log "  expected exit 2"; ok=1; }
    verdict "failure propagation" $ok "array job $aid tasks: $astates; merge job $mid: $st; merge with shards missing: exit $mrc"
fi

# 6. Control: are numbers-only differences the engine's doing, or batch composition's?
if [[ $numbers_only == 1 && "${STANDPOINT_TEST_CONTROL:-1}" == 1 && " ${test_args[*]} " != *" --batch-size "* ]]; then
    log "6. control: numbers differed; the reference and the array again with --batch-size 1 (no padding)"
    reference "$work/ref-b1" "${analyze_args[@]}" --batch-size 1
    log "  reference --batch-size 1: ${ref_wall}s"
    submit_and_wait "$work/array-b1" "$shards" -- "${analyze_args[@]}" --batch-size 1
    check_run "$work/array-b1" "$shards" "$sub_aid" "$sub_mid" "$work/ref-b1"; rc=$?
    verdict "control: array vs single run, both --batch-size 1" $rc "array job $sub_aid, merge job $sub_mid;" \
        "array wall $(task_wall "$work/array-b1")s, merge $(merge_wall "$work/array-b1")s (single run ${ref_wall}s)"
fi

log "summary:"
worst=0
for v in "${verdicts[@]}"; do
    log "  $v"
    case "$v" in *": FAIL;"*) worst=1 ;; *": NUMBERS-DIFFER;"*) [[ $worst == 0 ]] && worst=3 ;; esac
done
log "end to end $(elapsed "$t_script" "$(date +%s.%N)")s"
case $worst in
    0) log "PASS: standpoint under Slurm (array + afterok merge, requeue, failures) matches the single run byte for byte"
       status=0 ;;
    3) log "NUMBERS DIFFER: everything ran, but some merged outputs differ from the single run in numbers alone (shown above)" ;;
    *) log "FAIL: see above" ;;
esac
exit $worst
