# Okta client tests against the emulator over real sockets.
og_add_test(okta_transport_test SOURCES okta_transport_test.cpp
            LIBS og_okta_client og_okta_emulator_process LABELS integration)
