"""Sync to headquarters: the outbox pusher and the HQ receiver. Never imports `drivers`."""
