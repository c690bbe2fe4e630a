#!/bin/bash
# Submit a sharded standpoint run to Slurm: a job array of N analyze tasks, then a merge job that
# starts only when every task has succeeded (--dependency=afterok).
#
#   scripts/slurm/submit.sh N OUT INPUT... [analyze options]
#
#   e.g. STANDPOINT_BIN=/shared/bin/standpoint scripts/slurm/submit.sh 16 /shared/runs/2022 \
#            /shared/corpus/press_releases.jsonl --model default --offline
#
# OUT and the inputs must be on a filesystem that every node sees, at the same path. Task I
# (0-based) writes OUT/shard-I-of-N/; the merge job writes OUT/merged/; Slurm logs go to OUT/logs/.
# Relative paths are taken from the directory you submit from (sbatch's default --chdir).
#
# Prints, on stdout:
#   ARRAY_JOB_ID=<id>
#   MERGE_JOB_ID=<id>
#
# Environment:
#   STANDPOINT_BIN          the binary every node runs (default: `standpoint` on PATH; made absolute)
#   STANDPOINT_MODEL, ...   standpoint's own variables travel with the job (sbatch --export=ALL)
#   STANDPOINT_SBATCH_ARGS  extra sbatch options for both jobs, split on spaces
#                           (e.g. "--partition=batch --time=02:00:00 --cpus-per-task=4")
#   STANDPOINT_MERGE_SBATCH_ARGS  extra sbatch options for the merge job only
#   STANDPOINT_ARRAY_THROTTLE     at most this many tasks at once (--array=0-(N-1)%K)
#   STANDPOINT_ARRAY_FIRST  first array index (default 0): --array=F-(F+N-1); standpoint subtracts
#                           SLURM_ARRAY_TASK_MIN, so the shards are the same
#   STANDPOINT_RESUME       1 (default): tasks pass --resume; 0: they do not
#   SLURM_CONF              which cluster (as for every Slurm command)
set -euo pipefail

usage() { echo "usage: $0 N OUT INPUT... [analyze options]" >&2; exit 2; }
[[ $# -ge 3 ]] || usage
n="$1"; out="$2"; shift 2
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$0: N must be a positive integer, not '$n'" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "$out")"
mkdir -p "$out/logs"

bin="${STANDPOINT_BIN:-standpoint}"
if [[ "$bin" == */* ]]; then
    bin="$(realpath "$bin")"
else
    bin="$(command -v "$bin")" || { echo "$0: '$bin' is not on PATH; set STANDPOINT_BIN" >&2; exit 2; }
fi
[[ -x "$bin" ]] || { echo "$0: $bin is not executable" >&2; exit 2; }

export STANDPOINT_BIN="$bin" STANDPOINT_OUT="$out" STANDPOINT_EXPECT_SHARDS="$n"
export STANDPOINT_RESUME="${STANDPOINT_RESUME:-1}"

read -r -a extra <<<"${STANDPOINT_SBATCH_ARGS:-}"
read -r -a merge_extra <<<"${STANDPOINT_MERGE_SBATCH_ARGS:-}"
first="${STANDPOINT_ARRAY_FIRST:-0}"
[[ "$first" =~ ^[0-9]+$ ]] || { echo "$0: STANDPOINT_ARRAY_FIRST must be a number" >&2; exit 2; }
range="$first-$((first + n - 1))${STANDPOINT_ARRAY_THROTTLE:+%$STANDPOINT_ARRAY_THROTTLE}"

array_id="$(sbatch --parsable --export=ALL --array="$range" \
    --output="$out/logs/analyze-%A_%a.out" \
    "${extra[@]}" "$here/analyze-array.sbatch" "$@")"
array_id="${array_id%%;*}"

if ! merge_id="$(sbatch --parsable --export=ALL \
    --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
    --output="$out/logs/merge-%j.out" \
    "${extra[@]}" "${merge_extra[@]}" "$here/merge.sbatch")"; then
    echo "$0: submitting the merge job failed; cancelling array job $array_id" >&2
    scancel "$array_id" || true
    exit 2
fi
merge_id="${merge_id%%;*}"

echo "submitted: array job $array_id (--array=$range, $n shards into $out), merge job $merge_id (afterok:$array_id)" >&2
echo "ARRAY_JOB_ID=$array_id"
echo "MERGE_JOB_ID=$merge_id"
