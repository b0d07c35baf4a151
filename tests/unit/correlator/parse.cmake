# Parser tests.
og_add_test(correlator_parse_test
  SOURCES okta_log_parser_test.cpp alert_parser_test.cpp parse_errors_test.cpp timestamp_test.cpp dedupe_test.cpp
  LIBS og_correlator og_test_support yaml-cpp
  LABELS unit)
# Every sample truncated at every offset and with seeded random byte flips: an Event or a typed
# failure, never a crash (run it in the ASan/UBSan build).
og_add_test(correlator_parse_mutation_test
  SOURCES parse_mutation_test.cpp
  LIBS og_correlator og_test_support
  LABELS unit)
