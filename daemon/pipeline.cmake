# The running daemon: the pipeline that wires sources, correlator and response engine, the state
# snapshot, the audit topic, the Okta metrics, and the `run` command.
target_sources(og_daemon PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/run_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_snapshot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/applied_offsets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/audit_topic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/okta_metrics.cpp
)
