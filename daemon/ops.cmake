# Operations: metrics registry, ops HTTP server, JSON logs, sd_notify, startup steps, signals and the
# configuration loader.
target_sources(og_daemon PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sd_notify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ops_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reachability.cpp
  ${CMAKE_CURRENT_LIST_DIR}/app.cpp
  ${CMAKE_CURRENT_LIST_DIR}/signals.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_cli.cpp
)
target_link_libraries(og_daemon PUBLIC og_boost_asio yaml-cpp)

# Installation of the systemd integration and an example configuration. The unit names
# /usr/bin/oktaguard (Debian's prefix); other prefixes get the installed path substituted.
include(GNUInstallDirs)
set(OG_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "unit directory, relative to the prefix")
set(OG_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING "sysusers.d directory, relative to the prefix")
set(OG_TMPFILES_DIR "lib/tmpfiles.d" CACHE STRING "tmpfiles.d directory, relative to the prefix")
file(READ ${PROJECT_SOURCE_DIR}/systemd/oktaguard.service _og_unit)
string(REPLACE "/usr/bin/oktaguard" "${CMAKE_INSTALL_FULL_BINDIR}/oktaguard" _og_unit "${_og_unit}")
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/oktaguard.service CONTENT "${_og_unit}" @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/systemd/oktaguard.service)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/oktaguard.service DESTINATION ${OG_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/systemd/oktaguard.sysusers DESTINATION ${OG_SYSUSERS_DIR} RENAME oktaguard.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/oktaguard.tmpfiles DESTINATION ${OG_TMPFILES_DIR} RENAME oktaguard.conf)
install(FILES ${PROJECT_SOURCE_DIR}/examples/oktaguard.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
