"""What the hoster and validator daemons share: durable state, logs, metrics, retries."""
