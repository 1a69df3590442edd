#!/usr/bin/env node
// Task C: the fan-in. Its payload carries every B output keyed by task
// id; it sums them and returns the aggregate as its output.
'use strict';
const fs = require('fs');

const payload = JSON.parse(fs.readFileSync(0, 'utf8'));
const deps = payload.dependencies || {};
const parts = {};
let total = 0;
for (const id of ['B1', 'B2', 'B3']) {
	if (!deps[id] || !Number.isInteger(deps[id].value)) {
		process.stderr.write(`C: payload has no dependencies.${id}.value\n`);
		process.exit(1);
	}
	parts[id] = { value: deps[id].value, by: deps[id].by };
	total += deps[id].value;
}
process.stdout.write(JSON.stringify({ total: total, parts: parts }) + '\n');
