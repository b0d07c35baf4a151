# Sources: target_sources(og_daemon PRIVATE ...) for the Kafka, file and stdin sources.
