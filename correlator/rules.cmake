# Rule language, engine, windows, risk, decisions: target_sources(og_correlator PRIVATE ...).
target_sources(og_correlator PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/diagnostics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rule_predicate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rule_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rule_loader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/risk.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decision.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_pool.cpp
)
