# `oktaguard run` as a process, end to end: the real broker, the Okta emulator process, the shipped
# rules. tests/integration/daemon_process.* spawns the binary and talks to its ops server.
og_add_test(daemon_e2e_test SOURCES daemon_e2e_test.cpp daemon_process.cpp
            LIBS og_okta_emulator_process og_test_support simdjson::simdjson LABELS integration KAFKA)
target_compile_definitions(daemon_e2e_test PRIVATE OG_OKTAGUARD_BIN="$<TARGET_FILE:oktaguard>")
add_dependencies(daemon_e2e_test oktaguard okta_emulator)
