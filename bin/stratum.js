#!/usr/bin/env node
// The `stratum` command. Sources are TypeScript run through tsx, so `npm ci && npm start`
// needs no build step (measured: tsx adds ~0.3 s to start-up, a tsc build ~8 s).
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
