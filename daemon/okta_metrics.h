#pragma once

#include "daemon/metrics.h"

namespace og::okta {
class Client;
}

namespace og::daemon {

// The Okta client's figures on /metrics, read at scrape time (the client's counters are its own):
// requests by result, retries, 429s by cause, latency by operation (Okta's rate-limit bucket),
// rate-limit headroom per bucket, and identity resolution. `client` must outlive the scrapes.
void register_okta_metrics(Registry& registry, okta::Client& client);

}  // namespace og::daemon
