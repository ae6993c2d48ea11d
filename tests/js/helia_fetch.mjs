// Fetch a UnixFS file with Helia 7 (an independent IPFS implementation) from
// trustless gateways only, and print `{"sha256": ..., "size": ...}` of its bytes.
//
// usage: node helia_fetch.mjs [--repeat N] [--idle-ms MS] CID GATEWAY_URL [GATEWAY_URL...]
//
// --repeat N fetches the file N times, each by a fresh Helia (an empty blockstore,
// so every block comes over HTTP again) after MS milliseconds of idleness, through
// one connection pool whose idle connections live 60 s (as Go's, or undici's when a
// server advertises a long keep-alive): the second fetch reuses connections the
// server kept open across the gap. Every fetch must give the same bytes.
//
// Helia is built from createHeliaLight: no libp2p, no bootstrap, no delegated
// routing, no mDNS/UPnP. Its only router is a fallback router naming our gateways
// and its only block broker the trustless-gateway one. As a connection gater for
// HTTP, every fetch to anything but 127.0.0.1 is refused.
import { createHash } from 'node:crypto'
import { createHeliaLight } from 'helia'
import { unixfs } from '@helia/unixfs'
import { fallbackRouter } from '@helia/fallback-router'
import { trustlessGatewayBlockBroker } from '@helia/trustless-gateway-client'
import { CID } from 'multiformats/cid'
import { Agent, setGlobalDispatcher } from 'undici'

const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const at = argv.indexOf(name)
  if (at === -1) return fallback
  const value = Number(argv[at + 1])
  argv.splice(at, 2)
  return value
}
const repeat = option('--repeat', 1)
const idleMs = option('--idle-ms', 0)
const [cidText, ...gateways] = argv
if (cidText == null || gateways.length === 0) {
  console.error('usage: node helia_fetch.mjs [--repeat N] [--idle-ms MS] CID GATEWAY_URL...')
  process.exit(2)
}
setGlobalDispatcher(new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 }))

const realFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input))
  if (url.hostname !== '127.0.0.1') throw new Error(`refused non-loopback fetch to ${url.host}`)
  return realFetch(input, init)
}

// Helia 7 waits forever for non-fallback routers when it has none, so give it one
// that knows nothing; the fallback router then names our gateways.
const noRouter = { name: 'none', async * findProviders () {} }

async function fetchOnce () {
  const helia = createHeliaLight({
    routers: [noRouter, fallbackRouter({ gateways, shuffle: false })],
    blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })]
  })
  await helia.start()
  try {
    const hash = createHash('sha256')
    let size = 0
    for await (const buf of unixfs(helia).cat(CID.parse(cidText), { signal: AbortSignal.timeout(60_000) })) {
      hash.update(buf)
      size += buf.length
    }
    return { sha256: hash.digest('hex'), size }
  } finally {
    await helia.stop()
  }
}

const first = await fetchOnce()
for (let i = 1; i < repeat; i++) {
  await new Promise(resolve => setTimeout(resolve, idleMs))
  const again = await fetchOnce()
  if (again.sha256 !== first.sha256 || again.size !== first.size) {
    throw new Error(`fetch ${i + 1} gave other bytes: ${JSON.stringify(again)}`)
  }
}
process.stdout.write(JSON.stringify(first) + '\n')
