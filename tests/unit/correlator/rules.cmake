# Rule engine tests.
