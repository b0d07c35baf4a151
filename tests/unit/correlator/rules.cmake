# Rule engine tests.
og_add_test(correlator_rule_loader_test SOURCES rule_loader_test.cpp LIBS og_correlator LABELS unit)
og_add_test(correlator_rule_predicate_test SOURCES rule_predicate_test.cpp LIBS og_correlator LABELS unit)
og_add_test(correlator_engine_test SOURCES engine_test.cpp LIBS og_correlator og_test_support LABELS unit)
og_add_test(correlator_engine_state_test SOURCES engine_state_test.cpp LIBS og_correlator LABELS unit)
og_add_test(correlator_risk_test SOURCES risk_test.cpp LIBS og_correlator LABELS unit)
og_add_test(correlator_json_text_test SOURCES json_text_test.cpp LIBS og_correlator LABELS unit)
