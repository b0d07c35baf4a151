# bench/correlate: correlate-only throughput on pre-parsed events with the shipped rule pack (rules/)
# and 100,000 distinct users; memory per idle tracked user.
# Build Release: cmake -DCMAKE_BUILD_TYPE=Release; run build/bench/correlate [users] [events].
add_executable(bench_correlate ${CMAKE_CURRENT_LIST_DIR}/correlate.cpp)
set_target_properties(bench_correlate PROPERTIES OUTPUT_NAME correlate)
target_link_libraries(bench_correlate PRIVATE og_correlator og_warnings)
target_compile_definitions(bench_correlate PRIVATE OG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
