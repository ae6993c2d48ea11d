"""Helpers of the SDK (:class:`scatter.Scatter`, in :mod:`scatter.client`).

* :mod:`~scatter.sdk.units` — durations, amounts and prices in human units;
* :mod:`~scatter.sdk.network` — which chain, contracts and account to use;
* :mod:`~scatter.sdk.session` — upload sessions on disk (resume after an interruption);
* :mod:`~scatter.sdk.push` — the signed CAR push to the hoster that reserved a slot, and its status;
* :mod:`~scatter.sdk.health` — a file's live shards against the k it needs (healthy, at risk, lost);
* :mod:`~scatter.sdk.fetch` — any k shards from the hosters' gateways, verified;
* :mod:`~scatter.sdk.watch` — directory backup;
* :mod:`~scatter.sdk.models` — what the SDK returns.
"""
