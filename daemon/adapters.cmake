# Adapters between the correlator, the response engine and the Okta client (tracker issue 7).
target_sources(og_daemon PRIVATE
  decision_adapter.cpp
  response_okta.cpp
)
