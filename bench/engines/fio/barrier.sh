#!/bin/sh
# tierbench's start barrier for the jobs of one fio phase, run by each job as its exec_prerun:
#   sh barrier.sh DIR N [TIMEOUT_S]
# fio runs a job's exec_prerun after the job has set itself up (buffers, files) and right before its first
# I/O, so every job that waits here starts its I/O when the last of the N has set up, as the builtin engine's
# jobs do. Without it, fio's jobs set up one after another on few cores and the first ones run alone.
#
# The first job to arrive (it creates DIR/leader) holds an exclusive lock on DIR/gate; the others wait on a
# shared lock of it, which costs no CPU. The leader counts arrivals and drops the lock when all N are in, or
# after TIMEOUT_S (default 120) when some job never arrives (a job that failed to set up), so that fio is
# never left waiting. DIR must be new for each fio run.
set -e
dir=$1
n=$2
timeout_s=${3:-120}
mkdir -p "$dir"
if mkdir "$dir/leader" 2>/dev/null; then
    exec 9>"$dir/gate"
    flock -x 9
    : > "$dir/arrived.leader"
    : > "$dir/locked"
    polls=0
    while :; do
        set -- "$dir"/arrived.*
        [ "$#" -ge "$n" ] && exit 0
        polls=$((polls + 1))
        if [ "$polls" -gt $((timeout_s * 500)) ]; then
            echo "tierbench start barrier: $# of $n jobs arrived in ${timeout_s} s; starting anyway" >&2
            exit 0
        fi
        sleep 0.002
    done
fi
until [ -e "$dir/locked" ]; do sleep 0.002; done
mktemp "$dir/arrived.XXXXXX" >/dev/null
flock -s "$dir/gate" true
