"""The web node: a small HTTP API over the SDK (the dapp joins it in a later release)."""
