# bench/okta_client
