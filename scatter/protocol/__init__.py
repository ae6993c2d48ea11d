"""Messages exchanged off chain between clients, hosters and validators.

Each message is versioned and, where it authorises something, an EIP-712
structure bound to one chain and one Market deployment, so the same
signature means nothing anywhere else. HTTP paths live beside the messages.
"""

API_PREFIX = "/scatter/v1"
