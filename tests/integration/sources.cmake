# Source tests against the real broker.
