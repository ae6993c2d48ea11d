"""Chain access: shipped contract artifacts, deployment records, anvil, bindings.

Everything that talks to an Ethereum node lives in this package; the rest of
Scatter goes through :mod:`scatter.chain.market` and :mod:`scatter.chain.files`.
"""
