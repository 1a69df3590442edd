#!/usr/bin/env node
// Task A: the start of the fan-out. Reads its payload (JSON on stdin)
// and writes its output (JSON on stdout): the seed number for the Bs,
// taken from the workflow input {"start": N} when given.
'use strict';
const fs = require('fs');

const payload = JSON.parse(fs.readFileSync(0, 'utf8'));
const input = payload.input || {};
const seed = Number.isInteger(input.start) ? input.start : 7;
process.stdout.write(JSON.stringify({ seed: seed, by: 'node' }) + '\n');
