// Notebook cells to and from files: `.py` in the percent format (`# %%` starts a cell, as
// Jupytext, VS Code and Spyder read it) and `.ipynb` (nbformat 4.5). An `.ipynb` is checked
// against nbformat's own v4.5 JSON Schema (nbformat.v4.schema.json beside this file, copied
// verbatim from the nbformat 5.11.1 Python package, BSD-3-Clause), so what we accept and
// what we write is what Jupyter itself accepts.
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'

export interface NotebookCell {
  id: string
  cell_type: 'code' | 'markdown'
  source: string
}

export interface NotebookProblem {
  /** JSON Pointer into the notebook document (`/cells/0/outputs`). */
  path: string
  message: string
}

/** An `.ipynb` that is not a valid nbformat 4 document; `path` is the first problem's pointer. */
export class NotebookFormatError extends Error {
  readonly path: string
  constructor(readonly errors: NotebookProblem[]) {
    super(errors.length > 0 ? `${errors[0]!.path || '/'} ${errors[0]!.message}` : 'is not a valid notebook')
    this.name = 'NotebookFormatError'
    this.path = errors[0]?.path ?? ''
  }
}

// ---------------------------------------------------------------------------------------------
// .py, percent format

const MARKER = /^#\s?%%(.*)$/
// A line that would read as a marker but is content (a `# %%` comment in code, a markdown line
// starting with `%%`) is written with one more `#`, and read back with one less.
const LOOKS_LIKE_MARKER = /^#+\s?%%/
const ESCAPED_MARKER = /^##+\s?%%/

function escapeLine(line: string): string {
  return LOOKS_LIKE_MARKER.test(line) ? `#${line}` : line
}

function unescapeLine(line: string): string {
  return ESCAPED_MARKER.test(line) ? line.slice(1) : line
}

function trimTrailingBlankLines(lines: string[]): string[] {
  let end = lines.length
  while (end > 0 && lines[end - 1]!.trim() === '') end--
  return lines.slice(0, end)
}

/**
 * The cells as a percent-format script. Cell ids are not written (so the file reads like any
 * other percent script); fromPy numbers cells `cell-1`, `cell-2`... unless a marker carries
 * `id="..."`. Trailing blank lines of a cell are not kept, as in Jupytext.
 */
export function toPy(name: string, cells: NotebookCell[]): string {
  const header = `# ${name.replace(/\s*[\r\n]+\s*/g, ' ')}\n# A Stratum notebook in the percent format: each "# %%" line starts a cell.\n`
  const parts = cells.map((c) => {
    const lines = trimTrailingBlankLines(c.source.replace(/\r\n?/g, '\n').split('\n'))
    if (c.cell_type === 'markdown') return `# %% [markdown]\n${lines.map((l) => escapeLine(l === '' ? '#' : `# ${l}`)).join('\n')}\n`
    return `# %%\n${lines.map(escapeLine).join('\n')}${lines.length > 0 ? '\n' : ''}`
  })
  return [header, ...parts].join('\n')
}

/**
 * Cells from a percent-format script. `# %% [markdown]` (or `[md]`) starts a markdown cell,
 * `# %% [raw]` a raw cell, which is skipped (we have nowhere to run or render it); any other
 * `# %%` line starts a code cell. Comment lines before the first marker are the file's header
 * and are dropped; code before it becomes a first code cell.
 */
export function fromPy(text: string): NotebookCell[] {
  type Block = { type: 'code' | 'markdown' | 'raw'; id?: string; lines: string[] }
  const blocks: Block[] = []
  let current: Block = { type: 'code', lines: [] }
  let preamble = true
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const m = MARKER.exec(line)
    if (!m) {
      current.lines.push(line)
      continue
    }
    if (!preamble || current.lines.some((l) => l.trim() !== '' && !l.startsWith('#'))) blocks.push(current)
    preamble = false
    const rest = m[1]!
    const kind = /\[(\w+)\]/.exec(rest)?.[1]?.toLowerCase()
    const id = /\bid\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))/.exec(rest)
    current = { type: kind === 'markdown' || kind === 'md' ? 'markdown' : kind === 'raw' ? 'raw' : 'code', lines: [] }
    if (id) current.id = id[1] ?? id[2] ?? id[3]!
  }
  if (!preamble || current.lines.some((l) => l.trim() !== '' && !l.startsWith('#'))) blocks.push(current)

  const cells: NotebookCell[] = []
  for (const b of blocks) {
    if (b.type === 'raw') continue
    const lines = trimTrailingBlankLines(b.lines).map(unescapeLine)
    const source = b.type === 'markdown' ? lines.map((l) => l.replace(/^# ?/, '')).join('\n') : lines.join('\n')
    cells.push({ id: b.id ?? `cell-${cells.length + 1}`, cell_type: b.type, source })
  }
  return cells
}

// ---------------------------------------------------------------------------------------------
// .ipynb, nbformat 4.5

/** Jupyter's own layout of a multi-line string: lines, each keeping its `\n`. */
function toLines(text: string): string[] {
  return text.split(/(?<=\n)/).filter((l) => l !== '')
}

/** An nbformat 4.5 notebook; code cells carry the given stdout/stderr as stream outputs. */
export function toIpynb(name: string, cells: NotebookCell[], outputs?: Record<string, { stdout?: string; stderr?: string }>): object {
  return {
    cells: cells.map((c) => {
      if (c.cell_type === 'markdown') return { cell_type: 'markdown', id: c.id, metadata: {}, source: toLines(c.source) }
      const out = outputs?.[c.id]
      const streams = (['stdout', 'stderr'] as const).filter((s) => out?.[s]).map((s) => ({ output_type: 'stream', name: s, text: toLines(out![s]!) }))
      return { cell_type: 'code', execution_count: null, id: c.id, metadata: {}, outputs: streams, source: toLines(c.source) }
    }),
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' },
      title: name,
    },
    nbformat: 4,
    nbformat_minor: 5,
  }
}

const SCHEMA_ID = 'nbformat.v4.schema.json'
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true })
{
  // The file declares draft-04; it uses none of the keywords whose meaning changed after it
  // (`id`, boolean `exclusiveMinimum`/`exclusiveMaximum`), so Ajv's default draft reads it the
  // same. The declaration is dropped only because Ajv 8 does not ship the draft-04 meta-schema.
  const raw = JSON.parse(readFileSync(new URL('./nbformat.v4.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>
  const { $schema: _draft, ...schema } = raw
  ajv.addSchema({ ...schema, $id: SCHEMA_ID })
}
const validators = new Map<string, ValidateFunction>()
function validator(definition?: string): ValidateFunction {
  const key = definition ? `${SCHEMA_ID}#/definitions/${definition}` : SCHEMA_ID
  let v = validators.get(key)
  if (!v) {
    v = ajv.getSchema(key)
    if (!v) throw new Error(`nbformat schema has no ${key}`)
    validators.set(key, v)
  }
  return v
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

function at(doc: unknown, pointer: string): unknown {
  let value = doc
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~')
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined
  }
  return value
}

function problem(e: ErrorObject, prefix: string): NotebookProblem {
  const path = `${prefix}${e.instancePath}`
  const params = e.params as Record<string, unknown>
  if (e.keyword === 'required') return { path: `${path}/${escapePointer(String(params.missingProperty))}`, message: 'is required' }
  if (e.keyword === 'additionalProperties') return { path: `${path}/${escapePointer(String(params.additionalProperty))}`, message: 'is not a field nbformat 4 allows here' }
  if (e.keyword === 'enum') return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` }
  return { path, message: e.message ?? 'is not valid' }
}

// Cells and outputs are each a `oneOf` over their types, so a bad code cell comes back with
// one complaint per type it is not ("cell_type must be raw", "must be markdown"...). Such a
// part is checked again against the one definition its own type names, which says what is
// actually wrong ("/cells/0/outputs is required").
const UNIONS: { field: string; types: Record<string, string> }[] = [
  { field: 'cell_type', types: { code: 'code_cell', markdown: 'markdown_cell', raw: 'raw_cell' } },
  { field: 'output_type', types: { stream: 'stream', display_data: 'display_data', execute_result: 'execute_result', error: 'error' } },
]

/** Which union a failed `oneOf` is, by the definitions its branches point at. */
function unionOf(e: ErrorObject) {
  const refs = new Set((Array.isArray(e.schema) ? (e.schema as { $ref?: unknown }[]) : []).map((b) => b.$ref))
  return UNIONS.find((u) => Object.values(u.types).every((d) => refs.has(`#/definitions/${d}`)))
}

function check(validate: ValidateFunction, value: unknown, prefix: string): NotebookProblem[] {
  if (validate(value)) return []
  const errors = [...(validate.errors ?? [])]
  const unions = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath)
  // The outermost oneOf at each place; everything under it is its branches' noise.
  const outer = unions.filter((p) => !unions.some((q) => q !== p && p.startsWith(`${q}/`)))
  const under = (path: string) => outer.some((p) => path === p || path.startsWith(`${p}/`))
  const out: NotebookProblem[] = errors.filter((e) => !under(e.instancePath)).map((e) => problem(e, prefix))
  for (const p of new Set(outer)) {
    const e = errors.find((x) => x.keyword === 'oneOf' && x.instancePath === p)!
    const part = at(value, p)
    const union = unionOf(e)
    if (!union) {
      // The only other union is a multi-line string: a string or a list of strings.
      out.push({ path: `${prefix}${p}`, message: 'must be a string or an array of strings' })
      continue
    }
    const type = part !== null && typeof part === 'object' ? (part as Record<string, unknown>)[union.field] : undefined
    const definition = typeof type === 'string' ? union.types[type] : undefined
    if (!definition) {
      out.push({ path: `${prefix}${p}/${union.field}`, message: type === undefined ? 'is required' : `must be one of ${Object.keys(union.types).join(', ')}` })
      continue
    }
    out.push(...check(validator(definition), part, `${prefix}${p}`))
  }
  return out
}

/** Problems with a document as an nbformat 4.5 notebook, by JSON Pointer; [] when valid. */
export function validateIpynb(json: unknown): NotebookProblem[] {
  return check(validator(), json, '')
}

/**
 * The cells of an nbformat 4 notebook. 4.0-4.4 documents (no cell ids) are read as nbformat
 * upgrades them: missing ids become `cell-1`, `cell-2`... Raw cells are skipped: they hold
 * neither code to run nor markdown to show. Throws NotebookFormatError naming the first
 * problem's JSON Pointer.
 */
export function fromIpynb(json: unknown): NotebookCell[] {
  let doc = json
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    const d = doc as Record<string, unknown>
    if (typeof d.nbformat === 'number' && d.nbformat !== 4) throw new NotebookFormatError([{ path: '/nbformat', message: `is ${d.nbformat}; only nbformat 4 notebooks can be read (Jupyter's nbconvert --to notebook upgrades older ones)` }])
    if (d.nbformat === 4 && typeof d.nbformat_minor === 'number' && d.nbformat_minor < 5 && Array.isArray(d.cells)) {
      doc = { ...d, nbformat_minor: 5, cells: d.cells.map((c: unknown, i) => (c !== null && typeof c === 'object' && !('id' in c) ? { id: `cell-${i + 1}`, ...c } : c)) }
    }
  }
  const problems = validateIpynb(doc)
  if (problems.length > 0) throw new NotebookFormatError(problems)

  const cells = (doc as { cells: { id: string; cell_type: string; source: string | string[] }[] }).cells
  const seen = new Set<string>()
  const out: NotebookCell[] = []
  cells.forEach((c, i) => {
    if (seen.has(c.id)) throw new NotebookFormatError([{ path: `/cells/${i}/id`, message: `cell id ${c.id} is used twice` }])
    seen.add(c.id)
    if (c.cell_type !== 'code' && c.cell_type !== 'markdown') return
    out.push({ id: c.id, cell_type: c.cell_type, source: Array.isArray(c.source) ? c.source.join('') : c.source })
  })
  return out
}
