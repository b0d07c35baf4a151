# Transport, pool, rate limiting, retries and auth of og_okta_client (the operations layer is in operations.cmake).
target_sources(og_okta_client PRIVATE
)
