# Operations: metrics registry, ops HTTP server, JSON logs, sd_notify, startup steps, signals and the
# configuration loader. A library of its own so it depends on Asio, yaml-cpp and libsystemd only, not
# on the Kafka sources or the Okta client; og_daemon links it.
add_library(og_ops STATIC
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sd_notify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ops_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/app.cpp
  ${CMAKE_CURRENT_LIST_DIR}/signals.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_cli.cpp
)
target_link_libraries(og_ops
  PUBLIC og_correlator og_boost_asio yaml-cpp PkgConfig::SYSTEMD fmt::fmt
  PRIVATE og_warnings)
target_link_libraries(og_daemon PUBLIC og_ops)
