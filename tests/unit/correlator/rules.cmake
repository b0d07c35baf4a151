# Rule engine tests.
og_add_test(correlator_rule_loader_test SOURCES rule_loader_test.cpp LIBS og_correlator LABELS unit)
