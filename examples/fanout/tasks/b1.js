#!/usr/bin/env node
// Task B1 (Node.js): double A's seed.
'use strict';
const fs = require('fs');

const payload = JSON.parse(fs.readFileSync(0, 'utf8'));
const a = payload.dependencies && payload.dependencies.A;
if (!a || !Number.isInteger(a.seed)) {
	process.stderr.write('B1: payload has no dependencies.A.seed\n');
	process.exit(1);
}
process.stdout.write(JSON.stringify({ value: a.seed * 2, by: 'node' }) + '\n');
