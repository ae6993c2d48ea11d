// Compute UnixFS file CIDs with the npm `ipfs-unixfs-importer` (an implementation
// independent of ours) configured as Kubo's `ipfs add`: fixed-size chunks,
// balanced layout, `maxLinks` children per node, CIDv0 with dag-pb "file" leaves
// or CIDv1 with raw leaves.
//
// stdin: JSON list of {length, pattern: "counter"|"repeat", byte?, chunkSize, maxLinks, cidVersion}
//   counter: byte i of the file is i % 251;  repeat: every byte is `byte`.
// stdout: JSON list of CID strings, one per spec.
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

// The importer only writes blocks; these specs need just the CID, so discard them.
const sink = { put: async (cid) => cid, has: async () => false }

async function * content (spec) {
  const piece = 1 << 20
  for (let offset = 0; offset < spec.length; offset += piece) {
    const n = Math.min(piece, spec.length - offset)
    const buf = new Uint8Array(n)
    if (spec.pattern === 'repeat') buf.fill(spec.byte)
    else for (let i = 0; i < n; i++) buf[i] = (offset + i) % 251
    yield buf
  }
}

async function cidOf (spec) {
  const options = {
    cidVersion: spec.cidVersion,
    rawLeaves: spec.cidVersion === 1,
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: spec.chunkSize }),
    layout: balanced({ maxChildrenPerNode: spec.maxLinks })
  }
  let last
  for await (const entry of importer([{ content: content(spec) }], sink, options)) last = entry
  return last.cid.toString()
}

let input = ''
for await (const chunk of process.stdin) input += chunk
const out = []
for (const spec of JSON.parse(input)) out.push(await cidOf(spec))
process.stdout.write(JSON.stringify(out) + '\n')
