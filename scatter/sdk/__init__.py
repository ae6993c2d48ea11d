"""The SDK behind :class:`scatter.Scatter` (in :mod:`scatter.client`), one module per flow.

The flows, each module built on the one before it:

* :mod:`~scatter.sdk.base` — the connection, account and deal lookups every flow shares;
* :mod:`~scatter.sdk.views` — market views (status, bids, deals, nodes);
* :mod:`~scatter.sdk.money` — cancel, extend, finish, balance, withdraw;
* :mod:`~scatter.sdk.files` — file entries: ls, status and health, share, rm;
* :mod:`~scatter.sdk.upload`, :mod:`~scatter.sdk.download`, :mod:`~scatter.sdk.pin` — the three flows.

What they use:

* :mod:`~scatter.sdk.units` — durations, amounts and prices in human units;
* :mod:`~scatter.sdk.pricing` — the default price (twice the hosters' break-even) and price warnings;
* :mod:`~scatter.sdk.network` — which chain, contracts and account to use;
* :mod:`~scatter.sdk.session` — upload sessions on disk (resume after an interruption);
* :mod:`~scatter.sdk.push` — the signed CAR push to the hoster that reserved a slot, and its status;
* :mod:`~scatter.sdk.health` — a file's live shards against the k it needs (healthy, at risk, lost);
* :mod:`~scatter.sdk.fetch` — any k shards from the hosters' gateways, verified;
* :mod:`~scatter.sdk.watch` — directory backup;
* :mod:`~scatter.sdk.models` — what the SDK returns.
"""
