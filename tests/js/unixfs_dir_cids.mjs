// Compute the CID of a directory tree with the npm `ipfs-unixfs-importer` (an
// implementation independent of ours) configured as Kubo's `ipfs add -r`: fixed
// 256 KiB chunks, balanced layout of 174 links, CIDv0 with dag-pb "file" leaves or
// CIDv1 with raw leaves, and HAMT sharding of a directory over 256 KiB
// (`shardSplitThresholdBytes`, fanout 256). Hidden names are skipped, as Kubo does.
//
// With `helia` as third argument, the tree is added through Helia's @helia/unixfs
// (`addAll`, into an offline Helia's memory blockstore) with the same options.
//
// usage: node unixfs_dir_cids.mjs DIR CID_VERSION [helia]   ->   stdout: the root CID
import { readdir, readFile } from 'node:fs/promises'
import { join, basename } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const [dir, version, via] = process.argv.slice(2)
const cidVersion = Number(version)
const sink = { put: async (cid) => cid, has: async () => false }

async function * entries (path, rel) {
  const names = (await readdir(path, { withFileTypes: true })).filter(d => !d.name.startsWith('.'))
  if (names.length === 0) yield { path: rel }
  for (const d of names) {
    if (d.isDirectory()) yield * entries(join(path, d.name), `${rel}/${d.name}`)
    else yield { path: `${rel}/${d.name}`, content: await readFile(join(path, d.name)) }
  }
}

const options = {
  cidVersion,
  rawLeaves: cidVersion === 1,
  leafType: 'file',
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  shardSplitThresholdBytes: 262144,
  shardFanoutBits: 8
}
const root = basename(dir)
let found
if (via === 'helia') {
  const { createHeliaLight } = await import('helia')
  const { unixfs } = await import('@helia/unixfs')
  const helia = createHeliaLight({ routers: [], blockBrokers: [] })
  await helia.start()
  try {
    for await (const entry of unixfs(helia).addAll(entries(dir, root), options)) {
      if (entry.path === root) found = entry.cid.toString()
    }
  } finally {
    await helia.stop()
  }
} else {
  for await (const entry of importer(entries(dir, root), sink, options)) {
    if (entry.path === root) found = entry.cid.toString()
  }
}
process.stdout.write(found + '\n')
