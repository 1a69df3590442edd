#!/bin/sh
# Task B3 (POSIX shell), standing in for the seed's container task:
# five times A's seed. Only A's output has a "seed" key, so plain text
# tools are enough to read it from the payload.
set -eu
payload=$(cat)
seed=$(printf '%s' "$payload" |
	grep -o '"seed"[[:space:]]*:[[:space:]]*-\{0,1\}[0-9]\{1,\}' |
	head -n 1 | sed 's/.*:[[:space:]]*//')
if [ -z "$seed" ]; then
	echo "B3: payload has no dependencies.A.seed" >&2
	exit 1
fi
printf '{"value": %d, "by": "sh"}\n' $((seed * 5))
