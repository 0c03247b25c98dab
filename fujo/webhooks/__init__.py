"""Webhooks (issue 15): late tickets pushed to the facility — endpoints, the outbox filled from the
bulk change feed, signed deliveries with retries (``fujo worker``) and the delivery log."""
