# Operations: target_sources(og_daemon PRIVATE ...) for metrics, the ops server, logging, sd_notify.
