// Drives one pin through a Pinning Service API with @ipfs-shipyard/pinning-service-client
// (a client not written here): add it, poll it until `pinned` (or `failed`), list it by CID.
//
//   node tests/js/pinning_client.mjs URL TOKEN CID ORIGIN_MULTIADDR [TIMEOUT_SECONDS]
//
// Prints one JSON line per status change ({"status", "info"}) and, at the end,
// {"final": PinStatus, "listed": count}; exits 0 when pinned, 1 otherwise.
import { Configuration, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'

const [endpointUrl, accessToken, cid, origin, timeoutArg] = process.argv.slice(2)
if (!endpointUrl || !accessToken || !cid || !origin) {
  console.error('usage: pinning_client.mjs URL TOKEN CID ORIGIN_MULTIADDR [TIMEOUT_SECONDS]')
  process.exit(2)
}
const deadline = Date.now() + 1000 * Number(timeoutArg ?? 240)
const client = new RemotePinningServiceClient(new Configuration({ endpointUrl, accessToken }))

// The client's types say Set for origins, cid and status, but it serializes them as arrays do
// (JSON.stringify of a Set is {}; the query string calls .join): arrays go over the wire right.
const added = await client.pinsPost({ pin: { cid, name: 'pinning_client.mjs', origins: [origin] } })
let current = added
let last = ''
while (true) {
  if (current.status !== last) {
    last = current.status
    console.log(JSON.stringify({ status: current.status, info: current.info ?? {} }))
  }
  if (current.status === Status.Pinned || current.status === Status.Failed || Date.now() > deadline) break
  await new Promise((resolve) => setTimeout(resolve, 1000))
  current = await client.pinsRequestidGet({ requestid: added.requestid })
}
const listed = await client.pinsGet({ cid: [cid], status: [Status.Pinned] })
console.log(JSON.stringify({ final: current, listed: listed.count, delegates: [...current.delegates] }))
process.exit(current.status === Status.Pinned ? 0 : 1)
