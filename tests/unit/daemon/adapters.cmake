# Decision -> PlannedAction and the Okta executor's pure mapping (no sockets).
og_add_test(decision_adapter_test SOURCES decision_adapter_test.cpp LIBS og_daemon LABELS unit)
