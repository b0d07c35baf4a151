# daemon response tests: one unit binary for the engine's parts, one crash-safety test with its driver.
og_add_test(daemon_response_test
  SOURCES journal_test.cpp guard_test.cpp response_test.cpp
  LIBS og_daemon LABELS unit)

add_executable(response_crash_driver response_crash_driver_test.cpp)
target_link_libraries(response_crash_driver PRIVATE og_daemon og_warnings)
og_add_test(daemon_response_crash_test SOURCES response_crash_test.cpp LIBS og_daemon LABELS unit)
target_compile_definitions(daemon_response_crash_test PRIVATE OG_CRASH_DRIVER="$<TARGET_FILE:response_crash_driver>")
add_dependencies(daemon_response_crash_test response_crash_driver)
