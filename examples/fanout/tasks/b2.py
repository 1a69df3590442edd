#!/usr/bin/env python3
"""Task B2 (Python): triple A's seed."""
import json
import sys

payload = json.load(sys.stdin)
a = (payload.get("dependencies") or {}).get("A") or {}
if not isinstance(a.get("seed"), int):
    sys.exit("B2: payload has no dependencies.A.seed")
json.dump({"value": a["seed"] * 3, "by": "python"}, sys.stdout)
sys.stdout.write("\n")
