// The network document's checks and traversals, as pure functions (no database).
import { describe, expect, it } from 'vitest'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { ValidationError } from '../../core/errors.ts'
import { buildTopology, NETWORK_SCHEMA, routeToExport, upstreamWells, validateDocument, type NetworkDocument } from './networks.topology.ts'

const WELL = '0190f5c2-7c1e-7a3b-9c4d-2e5f6a7b8c9d'
const OTHER_WELL = '0190f5c2-7c1e-7a3b-9c4d-2e5f6a7b8c9e'

/** Two wells meeting at a joint, a manifold, a separator and the export point; a bypass from J1 straight to EXP. */
const field = (): NetworkDocument => ({
  branches: [
    {
      id: 'B1',
      nodes: [
        { id: 'W1', kind: 'well', name: 'Well-1', entity_id: WELL },
        { id: 'W2', kind: 'well', name: 'Well-2', entity_id: OTHER_WELL },
        { id: 'J1', kind: 'joint' },
      ],
      edges: [
        { id: 'E1', from: 'W1', to: 'J1', length: 100 },
        { id: 'E2', from: 'W2', to: 'J1', length: 200 },
      ],
    },
  ],
  trunks: [
    {
      id: 'T1',
      nodes: [
        { id: 'M1', kind: 'manifold' },
        { id: 'SEP', kind: 'separator' },
        { id: 'EXP', kind: 'export' },
      ],
      edges: [
        { id: 'E3', from: 'J1', to: 'M1', length: 50 },
        { id: 'E4', from: 'M1', to: 'SEP', length: 10 },
        { id: 'E5', from: 'SEP', to: 'EXP', length: 5 },
      ],
    },
  ],
  paths: [{ id: 'P1', nodes: ['W1', 'J1', 'M1', 'SEP', 'EXP'] }],
})

const errorsOf = (doc: NetworkDocument, well = WELL) => buildTopology(doc, well).errors

describe('the document schema', () => {
  it('is a JSON Schema 2020-12 document that accepts a valid network', () => {
    expect(NETWORK_SCHEMA.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    const ajv = new Ajv2020({ strict: false, validateFormats: false })
    expect(ajv.validate(NETWORK_SCHEMA, field())).toBe(true)
    expect(validateDocument(field())).toEqual(field())
  })

  it('lists every misfit with its JSON Pointer under /body', () => {
    const bad = { branches: [{ id: 'B1', nodes: [{ id: 'W1', kind: 'oil well', colour: 'red' }], edges: [{ id: 'E1', from: 'W1', length: -3 }] }], trunks: 'none' }
    let caught: unknown
    try {
      validateDocument(bad)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ValidationError)
    const errors = (caught as ValidationError).errors
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: '/body/branches/0/nodes/0/kind', message: expect.stringMatching(/^must be one of well, joint/) },
        { path: '/body/branches/0/nodes/0/colour', message: 'is not a known field' },
        { path: '/body/branches/0/edges/0/to', message: 'is required' },
        { path: '/body/branches/0/edges/0/length', message: 'must be > 0' },
        { path: '/body/trunks', message: 'must be array' },
      ]),
    )
  })
})

describe('the topology checks', () => {
  it('accept a valid network', () => {
    expect(errorsOf(field())).toEqual([])
  })

  it('name an edge or a path to an undeclared node', () => {
    const doc = field()
    doc.trunks[0]!.edges![1]!.to = 'SEP-2'
    doc.paths = [{ id: 'P1', nodes: ['W1', 'J9'] }]
    expect(errorsOf(doc)).toEqual(
      expect.arrayContaining([
        { path: '/body/trunks/0/edges/1/to', message: 'no node SEP-2 is declared' },
        { path: '/body/paths/0/nodes/1', message: 'no node J9 is declared' },
      ]),
    )
  })

  it('name a path step without an edge, and duplicate ids', () => {
    const doc = field()
    doc.paths = [{ id: 'P1', nodes: ['W1', 'M1'] }, { id: 'P1', nodes: ['W2', 'J1'] }]
    doc.trunks[0]!.nodes!.push({ id: 'J1', kind: 'joint' })
    doc.trunks[0]!.edges!.push({ id: 'E1', from: 'M1', to: 'SEP' })
    expect(errorsOf(doc)).toEqual([
      { path: '/body/trunks/0/nodes/3/id', message: 'duplicates node J1 declared at /body/branches/0/nodes/2' },
      { path: '/body/trunks/0/edges/3/id', message: 'duplicates edge E1 declared at /body/branches/0/edges/0' },
      { path: '/body/paths/0/nodes/1', message: 'no edge runs from W1 to M1' },
      { path: '/body/paths/1/id', message: 'duplicates the id of /body/paths/0' },
    ])
  })

  it('name the edge that closes a cycle', () => {
    const doc = field()
    doc.trunks[0]!.edges!.push({ id: 'E6', from: 'SEP', to: 'J1' })
    const errors = errorsOf(doc)
    expect(errors).toEqual([{ path: '/body/trunks/0/edges/3/to', message: 'closes a cycle: J1 -> M1 -> SEP -> J1; flow must run one way' }])
    expect(buildTopology(doc, WELL).topology.acyclic).toBe(false)
  })

  it('refuse a self loop', () => {
    const doc = field()
    doc.trunks[0]!.edges!.push({ id: 'E6', from: 'M1', to: 'M1' })
    expect(errorsOf(doc)).toEqual([{ path: '/body/trunks/0/edges/3/to', message: 'closes a cycle: M1 -> M1; flow must run one way' }])
  })

  it('require an export point, the well linked by a well node, and a route from each well', () => {
    const noExport = field()
    noExport.trunks[0]!.nodes![2]!.kind = 'tank'
    expect(errorsOf(noExport)).toEqual(expect.arrayContaining([{ path: '/body/trunks', message: 'must declare the export point: a node of kind export' }]))

    expect(errorsOf(field(), '0190f5c2-0000-7a3b-9c4d-2e5f6a7b8c9d')).toEqual([{ path: '/body/branches', message: expect.stringMatching(/^must declare the network's well as a node of kind well/) }])

    const wrongKind = field()
    wrongKind.branches[0]!.nodes![0]!.kind = 'manifold'
    expect(errorsOf(wrongKind)).toEqual([{ path: '/body/branches/0/nodes/0/kind', message: "must be well: this node links the network's well" }])

    const stranded = field()
    stranded.branches[0]!.edges!.splice(1, 1)
    expect(errorsOf(stranded)).toEqual([{ path: '/body/branches/0/nodes/1', message: 'well W2 has no route to an export point' }])

    const twice = field()
    twice.trunks[0]!.nodes![0]!.entity_id = OTHER_WELL
    expect(errorsOf(twice)).toEqual([{ path: '/body/trunks/0/nodes/0/entity_id', message: `entity ${OTHER_WELL} is already linked by /body/branches/0/nodes/1` }])
  })
})

describe('the traversals', () => {
  it('follow the route from a well to the export point, with its length', () => {
    const { topology } = buildTopology(field(), WELL)
    const route = routeToExport(topology, 'W1')!
    expect(route.nodes.map((n) => n.item.id)).toEqual(['W1', 'J1', 'M1', 'SEP', 'EXP'])
    expect(route.edges.map((e) => e.item.id)).toEqual(['E1', 'E3', 'E4', 'E5'])
    expect(route.edges.map((e) => e.segment)).toEqual(['B1', 'T1', 'T1', 'T1'])
    expect(route.length).toBe(165)
    expect(routeToExport(topology, 'EXP')).toMatchObject({ edges: [], length: 0 })
  })

  it('take the fewest pipes, then the shortest, and give no length when a pipe has none', () => {
    const doc = field()
    doc.trunks[0]!.edges!.push({ id: 'BYPASS', from: 'J1', to: 'EXP' })
    doc.trunks[0]!.edges!.push({ id: 'BYPASS-2', from: 'J1', to: 'EXP', length: 1000 })
    const { topology } = buildTopology(doc, WELL)
    expect(routeToExport(topology, 'W1')!.edges.map((e) => e.item.id)).toEqual(['E1', 'BYPASS'])
    expect(routeToExport(topology, 'W1')!.length).toBeNull()
  })

  it('find no route from a node with no export point downstream', () => {
    const doc = field()
    doc.trunks[0]!.nodes!.push({ id: 'DEAD', kind: 'tank' })
    doc.trunks[0]!.edges!.push({ id: 'E7', from: 'M1', to: 'DEAD' })
    const { topology } = buildTopology(doc, WELL)
    expect(routeToExport(topology, 'DEAD')).toBeUndefined()
    expect(routeToExport(topology, 'M1')!.nodes.map((n) => n.item.id)).toEqual(['M1', 'SEP', 'EXP'])
  })

  it('list the wells upstream of a node, nearest first', () => {
    const { topology } = buildTopology(field(), WELL)
    expect(upstreamWells(topology, 'SEP').map((w) => [w.node.item.id, w.node.item.entity_id, w.pipes])).toEqual([
      ['W1', WELL, 3],
      ['W2', OTHER_WELL, 3],
    ])
    expect(upstreamWells(topology, 'W2').map((w) => w.node.item.id)).toEqual(['W2'])
    expect(upstreamWells(topology, 'J1').map((w) => w.pipes)).toEqual([1, 1])
  })

  it('walk a long flowline without exhausting the stack', () => {
    const n = 10_000 // the most one segment may declare
    const nodes = Array.from({ length: n }, (_, i) => ({ id: `N${i}`, kind: i === 0 ? ('well' as const) : i === n - 1 ? ('export' as const) : ('joint' as const), ...(i === 0 ? { entity_id: WELL } : {}) }))
    const edges = nodes.slice(1).map((node, i) => ({ id: `E${i}`, from: `N${i}`, to: node.id, length: 1 }))
    const { topology, errors } = buildTopology(validateDocument({ branches: [{ id: 'B', nodes, edges }], trunks: [] }), WELL)
    expect(errors).toEqual([])
    expect(routeToExport(topology, 'N0')!.length).toBe(n - 1)
    expect(upstreamWells(topology, `N${n - 1}`)).toHaveLength(1)
  })
})
