#!/usr/bin/env node
// The compiled CLI (built by `npm install` through the `prepare` script, or `npm run build`).
import '../dist/src/cli/main.js';
