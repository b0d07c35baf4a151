# daemon ops tests
og_add_test(daemon_metrics_test SOURCES metrics_test.cpp LIBS og_daemon LABELS unit)
og_add_test(daemon_log_test SOURCES log_test.cpp LIBS og_daemon LABELS unit)
og_add_test(daemon_sd_notify_test SOURCES sd_notify_test.cpp LIBS og_daemon LABELS unit)
og_add_test(daemon_ops_server_test SOURCES ops_server_test.cpp LIBS og_daemon LABELS unit)
og_add_test(daemon_app_test SOURCES app_test.cpp LIBS og_daemon LABELS unit)
og_add_test(daemon_config_test SOURCES config_test.cpp LIBS og_daemon LABELS unit)
find_program(OG_SYSTEMD_ANALYZE systemd-analyze)
if(OG_SYSTEMD_ANALYZE)
  add_test(NAME daemon_systemd_unit_test
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/systemd_unit_test.sh ${PROJECT_SOURCE_DIR} 1.5)
  set_tests_properties(daemon_systemd_unit_test PROPERTIES LABELS unit TIMEOUT 60)
endif()
