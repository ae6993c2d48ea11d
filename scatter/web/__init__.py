"""The web node: a small HTTP API over the SDK (:mod:`scatter.web.app`) and the dapp's static files
(:mod:`scatter.web.dapp`, built from ``dapp/`` into ``scatter/web/dapp``)."""
