# The Okta client's operations layer over the real transport against the emulator.
og_add_test(okta_operations_test SOURCES okta_operations_test.cpp
            LIBS og_okta_client og_okta_emulator_process og_test_support LABELS integration)
