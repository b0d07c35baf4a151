# daemon response tests: one unit binary for the engine's parts, one crash-safety test with its driver.
og_add_test(daemon_response_test
  SOURCES journal_test.cpp guard_test.cpp response_test.cpp
  LIBS og_daemon LABELS unit)
