# Response engine: target_sources(og_daemon PRIVATE ...) for journal, guards, reverts, audit.
