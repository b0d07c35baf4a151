# Parsing and normalisation: target_sources(og_correlator PRIVATE ...) for those files.
