# Response engine: journal, guards, breaker, reverts, audit, the engine, and the `actions` CLI.
target_sources(og_daemon PRIVATE
  action_types.cpp
  journal.cpp
  guard.cpp
  exception_resolver.cpp
  breaker.cpp
  revert.cpp
  audit.cpp
  response.cpp
  actions_cli.cpp
)
target_link_libraries(og_daemon PRIVATE OpenSSL::Crypto)
