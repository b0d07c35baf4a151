# The daemon's pipeline (`oktaguard run`) end to end: file sources, the shipped rules and the real
# Okta emulator process.
og_add_test(pipeline_file_emulator_test SOURCES pipeline_file_emulator_test.cpp
            LIBS og_daemon og_okta_emulator_process og_test_support LABELS integration)
target_compile_definitions(pipeline_file_emulator_test PRIVATE OG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The pipeline's own queue under a Kafka backlog (the real broker).
og_add_test(pipeline_kafka_backpressure_test SOURCES pipeline_kafka_backpressure_test.cpp
            LIBS og_daemon og_test_support LABELS integration KAFKA)
target_compile_definitions(pipeline_kafka_backpressure_test PRIVATE OG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
