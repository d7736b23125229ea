"""Signed webhooks (Standard Webhooks): subscriptions, the fan-out of outbox events into deliveries, signing, the
delivery loop with retries, and the SSRF guard. docs/integration.md#webhooks is the receiver's guide."""
