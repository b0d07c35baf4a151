# The response engine over the Okta executor against the emulator (real sockets).
og_add_test(response_okta_test SOURCES response_okta_test.cpp
            LIBS og_daemon og_okta_emulator_process og_okta_emulator_core LABELS integration)
