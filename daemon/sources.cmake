# Sources: Kafka (consumer group, store-after-ack), file and stdin replay, the dead-letter producer,
# and the per-message ingest step they share.
target_sources(og_daemon PRIVATE
  ingest.cpp
  ingest_log.cpp
  ingest_parsers.cpp
  source_offsets.cpp
  dead_letter.cpp
  kafka_source.cpp
  file_source.cpp
  stdin_source.cpp
)
