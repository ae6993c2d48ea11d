// Fetch a UnixFS file with Helia 7 (an independent IPFS implementation) from
// trustless gateways only, and print `{"sha256": ..., "size": ...}` of its bytes.
//
// usage: node helia_fetch.mjs CID GATEWAY_URL [GATEWAY_URL...]
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

const [cidText, ...gateways] = process.argv.slice(2)
if (cidText == null || gateways.length === 0) {
  console.error('usage: node helia_fetch.mjs CID GATEWAY_URL...')
  process.exit(2)
}

const realFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input))
  if (url.hostname !== '127.0.0.1') throw new Error(`refused non-loopback fetch to ${url.host}`)
  return realFetch(input, init)
}

// Helia 7 waits forever for non-fallback routers when it has none, so give it one
// that knows nothing; the fallback router then names our gateways.
const noRouter = { name: 'none', async * findProviders () {} }

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
  process.stdout.write(JSON.stringify({ sha256: hash.digest('hex'), size }) + '\n')
} finally {
  await helia.stop()
}
