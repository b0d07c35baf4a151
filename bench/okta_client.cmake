# bench/okta_client
# okta_rate: share of a rate-limited bucket turned into completed actions, and 429s provoked, against the Okta
# emulator (a test target, so only with OG_BUILD_TESTS). Run: build/bench/okta_rate [R/min] [windows] [connections].
if(TARGET og_okta_emulator_process)
  add_executable(bench_okta_rate ${CMAKE_CURRENT_LIST_DIR}/okta_rate.cpp)
  set_target_properties(bench_okta_rate PROPERTIES OUTPUT_NAME okta_rate)
  target_link_libraries(bench_okta_rate PRIVATE og_okta_client og_okta_emulator_process og_warnings)
endif()
