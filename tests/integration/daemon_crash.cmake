# The whole daemon killed at random points against the real broker and the emulator (issue: crash
# safety of the response engine at the effect level).
og_add_test(daemon_crash_test SOURCES daemon_crash_test.cpp
            LIBS og_daemon og_okta_emulator_process og_okta_emulator_core og_test_support LABELS integration KAFKA)
target_compile_definitions(daemon_crash_test PRIVATE OG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           OG_OKTAGUARD_BIN="$<TARGET_FILE:oktaguard>")
add_dependencies(daemon_crash_test oktaguard okta_emulator)
