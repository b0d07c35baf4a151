# Operations layer of og_okta_client: actions, typed outcomes, lookups, identity resolution, response
# parsing and the client facade (the transport is in transport.cmake).
target_sources(og_okta_client PRIVATE
  actions.cpp
  okta_json.cpp
  outcome.cpp
  lookups.cpp
  identity.cpp
  client.cpp
)
