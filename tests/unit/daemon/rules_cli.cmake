# Rule authors' tooling: rules check|test, replay, and the Panther agreement of the shipped pack.
og_add_test(daemon_rules_cli_test SOURCES rules_cli_test.cpp LIBS og_daemon og_test_support LABELS unit)
og_add_test(rules_cli_panther_test SOURCES rules_cli_panther_test.cpp LIBS og_daemon og_test_support LABELS unit)
