# Sources: offset tracking, the ingest step, file replay.
og_add_test(source_offsets_test SOURCES source_offsets_test.cpp LIBS og_daemon LABELS unit)
og_add_test(ingest_test SOURCES ingest_test.cpp LIBS og_daemon LABELS unit)
# librdkafka's in-process mock cluster: no broker needed.
og_add_test(dead_letter_test SOURCES dead_letter_test.cpp LIBS og_daemon PkgConfig::RDKAFKA LABELS unit)
og_add_test(source_file_test SOURCES source_file_test.cpp LIBS og_daemon LABELS unit)
