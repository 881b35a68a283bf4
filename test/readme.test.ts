// The README's configuration table is the contract users read: it must list every variable
// the code reads, with the same defaults.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { VARIABLES } from '../src/config.ts'

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  it('documents every configuration variable with its default', () => {
    for (const v of VARIABLES) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${v.name}\` |`))
      expect(row, v.name).toBeDefined()
      expect(row, v.name).toContain(v.default.startsWith('(') ? v.default : `\`${v.default}\``)
    }
  })
  it('gives the two commands', () => {
    expect(readme).toContain('npm ci && npm start')
    expect(readme).toContain('npm ci && npm test')
  })
})
