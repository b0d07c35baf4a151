# bench/okta_lookup: identity resolution, 10,000 lookups with a 90% cache-hit mix.
add_executable(bench_okta_lookup okta_lookup.cpp)
target_link_libraries(bench_okta_lookup PRIVATE og_okta_client og_warnings)
