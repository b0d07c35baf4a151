#Parsing and normalisation : target_sources(og_correlator PRIVATE...) for those files.
target_sources(og_correlator PRIVATE ${CMAKE_CURRENT_LIST_DIR} / timestamp.cpp ${CMAKE_CURRENT_LIST_DIR} /
               json_util.cpp ${CMAKE_CURRENT_LIST_DIR} / okta_log_parser.cpp ${CMAKE_CURRENT_LIST_DIR} /
               alert_parser.cpp ${CMAKE_CURRENT_LIST_DIR} / parse.cpp ${CMAKE_CURRENT_LIST_DIR} / dedupe.cpp)
