# Source tests against the real broker.
og_add_test(kafka_source_ingest_test SOURCES kafka_source_ingest_test.cpp
            LIBS og_daemon og_test_support LABELS integration KAFKA)
og_add_test(kafka_source_rebalance_test SOURCES kafka_source_rebalance_test.cpp
            LIBS og_daemon og_test_support LABELS integration KAFKA)
og_add_test(audit_topic_test SOURCES audit_topic_test.cpp
            LIBS og_daemon og_test_support LABELS integration KAFKA)
og_add_test(kafka_source_partitions_test SOURCES kafka_source_partitions_test.cpp
            LIBS og_daemon og_test_support LABELS integration KAFKA)
