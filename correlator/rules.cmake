# Rule language, engine, windows, risk, decisions: target_sources(og_correlator PRIVATE ...).
