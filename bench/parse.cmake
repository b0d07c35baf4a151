# bench/parse: Okta System Log normalisation throughput against simdjson On Demand merely
# iterating the same documents (iterate_many, counting them), measured in the same run.
# Build Release: cmake -DCMAKE_BUILD_TYPE=Release; run build/bench/parse [corpus-MB] [samples-dir].
add_executable(bench_parse ${CMAKE_CURRENT_LIST_DIR}/parse.cpp)
set_target_properties(bench_parse PROPERTIES OUTPUT_NAME parse)
target_link_libraries(bench_parse PRIVATE og_correlator og_warnings)
target_compile_definitions(bench_parse PRIVATE OG_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
