# Parsing and normalisation: target_sources(og_correlator PRIVATE ...) for those files.
set(OG_PARSE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/timestamp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/okta_log_parser.cpp
  ${CMAKE_CURRENT_LIST_DIR}/alert_parser.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parse.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dedupe.cpp
)
target_sources(og_correlator PRIVATE ${OG_PARSE_SOURCES})
# The libFuzzer binaries compile these again with coverage instrumentation (fuzz/CMakeLists.txt).
set(OG_PARSE_SOURCES ${OG_PARSE_SOURCES} CACHE INTERNAL "parser sources, for the fuzz targets")
