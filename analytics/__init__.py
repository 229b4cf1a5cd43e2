"""The event store and the merchant's footfall metrics."""
