#!/bin/sh
# Runs once per container start before the Kubo daemon (ipfs/kubo's /container-init.d).
# Bind the RPC API and the gateway to the private network address only.
set -e
ipfs config Addresses.API /ip4/172.28.0.10/tcp/5001
ipfs config Addresses.Gateway /ip4/172.28.0.10/tcp/8080
# No CORS on the RPC API: only the hoster talks to it, server to server.
ipfs config --json API.HTTPHeaders '{}'
