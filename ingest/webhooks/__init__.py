"""`podium webhooks`: Podium's facts delivered as Trophy's webhooks (docs/webhooks.md)."""
