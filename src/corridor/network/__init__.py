"""The interbank network: identity, the signed directory, signed envelopes, outbox/inbox and transports."""
