# Tooling for rule authors: `rules check|test` and `replay` (shadow-mode backtests).
target_sources(og_daemon PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/replay_events.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rules_cli.cpp
  ${CMAKE_CURRENT_LIST_DIR}/replay.cpp
)
