# Unit tests of the Okta client's operations layer (actions, outcomes, lookups, identity, JSON).
set(_og_ops_libs og_okta_client og_test_support)
og_add_test(okta_json_test SOURCES okta_json_test.cpp LIBS ${_og_ops_libs} LABELS unit)
og_add_test(actions_request_test SOURCES actions_request_test.cpp LIBS ${_og_ops_libs} LABELS unit)
og_add_test(actions_outcome_test SOURCES actions_outcome_test.cpp LIBS ${_og_ops_libs} LABELS unit)
og_add_test(lookups_test SOURCES lookups_test.cpp LIBS ${_og_ops_libs} LABELS unit)
og_add_test(identity_test SOURCES identity_test.cpp LIBS ${_og_ops_libs} LABELS unit)
