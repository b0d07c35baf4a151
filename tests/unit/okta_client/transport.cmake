# Transport, rate limiting, retries and auth of og_okta_client.
og_add_test(okta_client_retry_test SOURCES retry_test.cpp LIBS og_okta_client og_test_support LABELS unit)
og_add_test(okta_client_rate_limiter_test SOURCES rate_limiter_test.cpp LIBS og_okta_client LABELS unit)
og_add_test(okta_client_auth_test SOURCES auth_test.cpp LIBS og_okta_client LABELS unit)
og_add_test(okta_client_transport_test SOURCES transport_test.cpp LIBS og_okta_client LABELS unit)
og_add_test(okta_client_transport_url_test SOURCES transport_url_test.cpp LIBS og_okta_client LABELS unit)
