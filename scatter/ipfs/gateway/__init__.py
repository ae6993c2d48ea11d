"""The IPFS Trustless Gateway protocol: server (:mod:`.server`) and client (:mod:`.client`)."""
