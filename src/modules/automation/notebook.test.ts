// Notebook cells to and from .py (percent format) and .ipynb (nbformat 4.5, checked against
// nbformat's own JSON Schema).
import { describe, expect, it } from 'vitest'
import { fromIpynb, fromPy, NotebookFormatError, toIpynb, toPy, validateIpynb, type NotebookCell } from './notebook.ts'

const cells: NotebookCell[] = [
  { id: 'cell-1', cell_type: 'markdown', source: '# Water cut\n\nShare of water in the *liquid* produced.\n%% not a marker' },
  { id: 'cell-2', cell_type: 'code', source: 'import math\nn = context["n"]\n\nprint(f"n is {n}")' },
  { id: 'cell-3', cell_type: 'code', source: '# %% a comment that looks like a marker\n##%% and another\noutput = {"doubled": n * 2}' },
  { id: 'cell-4', cell_type: 'markdown', source: 'Done.' },
]

function thrown(fn: () => unknown): NotebookFormatError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(NotebookFormatError)
    return err as NotebookFormatError
  }
  throw new Error('expected NotebookFormatError')
}

describe('.py in the percent format', () => {
  it('writes a header, # %% before code, # %% [markdown] with commented lines, and reads the same cells back', () => {
    const py = toPy('Water cut', cells)
    expect(py).toContain('# Water cut\n')
    expect(py).toContain('# %% [markdown]\n# # Water cut\n#\n# Share of water')
    expect(py).toContain('# %%\nimport math\n')
    expect(py.split('\n').filter((l) => /^#\s?%%/.test(l))).toHaveLength(cells.length)
    expect(fromPy(py)).toEqual(cells)
  })

  it('reads hand-written scripts: ids on markers, [md], raw cells skipped, code before the first marker kept', () => {
    const py = 'import os\n\n# %% id="load"\nx = 1\n\n\n# %% [md]\n# Notes\n\n# %% [raw]\n# ---\n\n#%%\ny = x + 1\n'
    expect(fromPy(py)).toEqual([
      { id: 'cell-1', cell_type: 'code', source: 'import os' },
      { id: 'load', cell_type: 'code', source: 'x = 1' },
      { id: 'cell-3', cell_type: 'markdown', source: 'Notes' },
      { id: 'cell-4', cell_type: 'code', source: 'y = x + 1' },
    ])
  })
})

describe('.ipynb, nbformat 4.5', () => {
  it('writes a notebook that passes the nbformat schema, with stream outputs when given, and reads the same cells back', () => {
    const doc = toIpynb('Water cut', cells, { 'cell-2': { stdout: 'n is 21\n', stderr: 'careful\n' } }) as Record<string, any>
    expect(validateIpynb(doc)).toEqual([])
    expect(doc).toMatchObject({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3' }, language_info: { name: 'python' } } })
    expect(doc.cells[1]).toMatchObject({ id: 'cell-2', execution_count: null, outputs: [{ output_type: 'stream', name: 'stdout', text: ['n is 21\n'] }, { output_type: 'stream', name: 'stderr', text: ['careful\n'] }] })
    expect(doc.cells[2].outputs).toEqual([])
    expect(fromIpynb(JSON.parse(JSON.stringify(doc)))).toEqual(cells)
  })

  it('accepts sources as a string or a list of lines, skips raw cells, and gives 4.4 notebooks (no cell ids) ids', () => {
    const doc = {
      nbformat: 4,
      nbformat_minor: 4,
      metadata: {},
      cells: [
        { cell_type: 'raw', metadata: {}, source: '---\ntitle: x\n---' },
        { cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text'] },
        { cell_type: 'code', metadata: {}, execution_count: 3, outputs: [{ output_type: 'execute_result', execution_count: 3, data: { 'text/plain': ['2'] }, metadata: {} }], source: '1 + 1' },
      ],
    }
    expect(fromIpynb(doc)).toEqual([
      { id: 'cell-2', cell_type: 'markdown', source: '# Title\ntext' },
      { id: 'cell-3', cell_type: 'code', source: '1 + 1' },
    ])
    // validateIpynb itself is strict 4.5: ids are required.
    expect(validateIpynb(doc)).toContainEqual({ path: '/cells/0/id', message: 'is required' })
  })

  it('rejects a broken notebook naming the JSON Pointer of what is wrong', () => {
    const good = toIpynb('x', cells) as Record<string, any>
    const { cells: _cells, ...noCells } = good
    expect(thrown(() => fromIpynb(noCells)).path).toBe('/cells')

    const noOutputs = structuredClone(good)
    delete noOutputs.cells[1].outputs
    const e = thrown(() => fromIpynb(noOutputs))
    expect(e.errors).toEqual([{ path: '/cells/1/outputs', message: 'is required' }])
    expect(e.message).toBe('/cells/1/outputs is required')

    const badType = structuredClone(good)
    badType.cells[2].cell_type = 'sql'
    expect(validateIpynb(badType)).toEqual([{ path: '/cells/2/cell_type', message: 'must be one of code, markdown, raw' }])

    const badOutput = structuredClone(good)
    badOutput.cells[1].outputs = [{ output_type: 'stream', name: 'stdout' }]
    expect(validateIpynb(badOutput)).toEqual([{ path: '/cells/1/outputs/0/text', message: 'is required' }])

    const badSource = structuredClone(good)
    badSource.cells[0].source = 5
    expect(validateIpynb(badSource)).toEqual([{ path: '/cells/0/source', message: 'must be a string or an array of strings' }])

    const badId = structuredClone(good)
    badId.cells[0].id = 'no spaces allowed'
    expect(validateIpynb(badId)[0]!.path).toBe('/cells/0/id')

    const twice = structuredClone(good)
    twice.cells[1].id = 'cell-1'
    expect(thrown(() => fromIpynb(twice)).errors).toEqual([{ path: '/cells/1/id', message: 'cell id cell-1 is used twice' }])

    expect(thrown(() => fromIpynb({ ...good, nbformat: 3 })).path).toBe('/nbformat')
    expect(thrown(() => fromIpynb('not a notebook')).path).toBe('')
  })
})
