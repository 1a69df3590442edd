#!/usr/bin/env python3
"""Baseline for bench_memory: run the same DAG with Dask's synchronous
scheduler (dask.local.get_sync) and no-op tasks; print tasks per second.

usage: dask_baseline.py DEFINITION.json   (liborchestra workflow format)
"""
import json
import sys
import time


def noop(*deps):
    return None


def main():
    try:
        from dask.local import get_sync
    except ImportError:
        print("dask is not installed (Debian: python3-dask)", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    graph = {}
    for t in doc["tasks"]:
        graph[t["id"]] = (noop, *t.get("dependsOn", []))
    keys = list(graph)
    start = time.perf_counter()
    get_sync(graph, keys)
    secs = time.perf_counter() - start
    print(f"{len(keys) / secs:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
