# Sources: Kafka (consumer group, store-after-ack), file and stdin replay, the dead-letter producer,
# and the per-message ingest step they share. A library of their own inside og_daemon, so their
# tests link without the Okta client, SQLite or systemd.
add_library(og_sources STATIC
  ingest.cpp
  ingest_log.cpp
  ingest_parsers.cpp
  source_offsets.cpp
  dead_letter.cpp
  kafka_source.cpp
  file_source.cpp
  stdin_source.cpp
)
target_link_libraries(og_sources PUBLIC og_correlator PkgConfig::RDKAFKA fmt::fmt PRIVATE og_warnings)
target_link_libraries(og_daemon PUBLIC og_sources)
