// Content-addressed file storage. Bytes are stored once under their sha256; the name a reader
// asks for is only ever a validated hex digest, so no path can escape the store's folder.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { NotFoundError, PayloadTooLargeError } from '../errors.ts'

export interface StoredBlob {
  sha256: string
  size: number
}

export interface FileStore {
  /** Streams `body` into the store; rejects with PayloadTooLargeError past `maxBytes`. */
  put(body: Readable, maxBytes: number): Promise<StoredBlob>
  get(sha256: string): Promise<{ stream: Readable; size: number }>
  has(sha256: string): Promise<boolean>
}

const SHA256 = /^[a-f0-9]{64}$/

export function createLocalFileStore(root: string): FileStore {
  const pathOf = (sha: string) => {
    if (!SHA256.test(sha)) throw new NotFoundError('no such file content')
    return join(root, 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha)
  }
  return {
    async put(body, maxBytes) {
      await mkdir(join(root, 'tmp'), { recursive: true })
      const tmp = join(root, 'tmp', `${Date.now()}-${randomBytes(8).toString('hex')}`)
      const hash = createHash('sha256')
      let size = 0
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length
          if (size > maxBytes) return done(new PayloadTooLargeError(`file is larger than the ${maxBytes} byte limit`))
          hash.update(chunk)
          done(null, chunk)
        },
      })
      try {
        await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx' }))
        const sha256 = hash.digest('hex')
        const dest = pathOf(sha256)
        await mkdir(join(dest, '..'), { recursive: true })
        await rename(tmp, dest) // atomic; identical content simply replaces identical bytes
        return { sha256, size }
      } catch (err) {
        await rm(tmp, { force: true })
        throw err
      }
    },
    async get(sha256) {
      const path = pathOf(sha256)
      try {
        const s = await stat(path)
        return { stream: createReadStream(path), size: s.size }
      } catch {
        throw new NotFoundError('no such file content')
      }
    },
    async has(sha256) {
      try {
        await stat(pathOf(sha256))
        return true
      } catch {
        return false
      }
    },
  }
}
