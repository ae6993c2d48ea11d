"""Browser tests of the dapp (a package: ``dapp_env`` is package-scoped)."""
