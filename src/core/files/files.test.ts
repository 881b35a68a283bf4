import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, tenant } from '../../../test/app.ts'
import { createLocalFileStore } from './fileStore.ts'

let t: Awaited<ReturnType<typeof testApp>>
const a = tenant()
const b = tenant()

beforeAll(async () => {
  t = await testApp({ FILE_MAX_BYTES: String(1024 * 1024) })
})
afterAll(() => t.close())

const upload = (body: Buffer | string, name: string, contentType = 'text/csv', headers = a.headers) =>
  t.app.inject({ method: 'POST', url: `/api/v1/files?name=${encodeURIComponent(name)}`, payload: body, headers: { ...headers, 'content-type': contentType } })

describe('files API', () => {
  it('uploads, describes and streams back a file with its content type and hash', async () => {
    const content = 'date_time,value\n2026-01-01T00:00:00Z,12.5\n'
    const res = await upload(content, 'well 12.csv')
    expect(res.statusCode).toBe(201)
    const file = res.json()
    expect(res.headers.location).toBe(`/api/v1/files/${file.id}`)
    expect(file).toMatchObject({ name: 'well 12.csv', content_type: 'text/csv', size: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex') })
    const meta = await t.app.inject({ method: 'GET', url: `/api/v1/files/${file.id}`, headers: a.headers })
    expect(meta.json()).toEqual(file)
    const down = await t.app.inject({ method: 'GET', url: `/api/v1/files/${file.id}/content`, headers: a.headers })
    expect(down.statusCode).toBe(200)
    expect(down.headers['content-type']).toBe('text/csv')
    expect(down.headers.etag).toBe(`"${file.sha256}"`)
    expect(down.body).toBe(content)
    const events = (await t.app.inject({ method: 'GET', url: `/api/v1/events?entity_id=${file.id}`, headers: a.headers })).json().data
    expect(events.map((e: { type: string }) => e.type)).toEqual(['file.created'])
  })
  it('keeps JSON uploads as bytes rather than parsing them', async () => {
    const raw = '{"a": 1,   "b": [1,2]}'
    const file = (await upload(raw, 'x.json', 'application/json')).json()
    const down = await t.app.inject({ method: 'GET', url: `/api/v1/files/${file.id}/content`, headers: a.headers })
    expect(down.body).toBe(raw)
  })
  it('stores identical content once', async () => {
    const one = (await upload('same bytes', 'a.txt', 'text/plain')).json()
    const two = (await upload('same bytes', 'b.txt', 'text/plain')).json()
    expect(one.id).not.toBe(two.id)
    expect(one.sha256).toBe(two.sha256)
  })
  it('refuses a file over the size limit with 413 and records nothing', async () => {
    const before = (await t.app.inject({ method: 'GET', url: '/api/v1/files?limit=1000', headers: a.headers })).json().data.length
    const res = await upload(Buffer.alloc(1024 * 1024 + 1, 1), 'big.bin', 'application/octet-stream')
    expect(res.statusCode).toBe(413)
    expect(res.headers['content-type']).toMatch(/problem\+json/)
    const after = (await t.app.inject({ method: 'GET', url: '/api/v1/files?limit=1000', headers: a.headers })).json().data.length
    expect(after).toBe(before)
  })
  it('needs a name', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/files', payload: 'x', headers: { ...a.headers, 'content-type': 'text/plain' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual([{ path: '/query/name', message: 'is required' }])
  })
  it("hides one organisation's files from another", async () => {
    const file = (await upload('secret', 's.txt', 'text/plain')).json()
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/files/${file.id}`, headers: b.headers })).statusCode).toBe(404)
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/files/${file.id}/content`, headers: b.headers })).statusCode).toBe(404)
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/files', headers: b.headers })).json()
    expect(list.data).toEqual([])
  })
})

describe('content-addressed store', () => {
  it('streams large content without holding it and names it by its hash', async () => {
    const root = mkdtempSync(join(tmpdir(), 'stratum-files-'))
    const store = createLocalFileStore(root)
    const chunk = Buffer.alloc(64 * 1024, 7)
    const chunks = 160 // 10 MiB
    const hash = createHash('sha256')
    for (let i = 0; i < chunks; i++) hash.update(chunk)
    const body = Readable.from((function* () { for (let i = 0; i < chunks; i++) yield chunk })())
    const blob = await store.put(body, 20 * 1024 * 1024)
    expect(blob).toEqual({ sha256: hash.digest('hex'), size: chunks * chunk.length })
    const { size, stream } = await store.get(blob.sha256)
    expect(size).toBe(chunks * chunk.length)
    let read = 0
    for await (const c of stream) read += (c as Buffer).length
    expect(read).toBe(size)
    expect(readdirSync(join(root, 'tmp'))).toEqual([]) // no temporary file left behind
  })
  it('cannot be walked out of: only a sha256 names content', async () => {
    const store = createLocalFileStore(mkdtempSync(join(tmpdir(), 'stratum-files-')))
    for (const name of ['../../etc/passwd', '/etc/passwd', 'ab/../../x', 'A'.repeat(64), '']) {
      await expect(store.get(name)).rejects.toThrow(/no such file content/)
      expect(await store.has(name)).toBe(false)
    }
  })
  it('leaves no partial file when the limit is crossed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'stratum-files-'))
    const store = createLocalFileStore(root)
    await expect(store.put(Readable.from([Buffer.alloc(100), Buffer.alloc(100)]), 150)).rejects.toThrow(/larger than the 150 byte limit/)
    expect(readdirSync(join(root, 'tmp'))).toEqual([])
  })
})
