#include "daemon/okta_metrics.h"

#include <string>
#include <vector>

#include "okta_client/client.h"

namespace og::daemon {

void register_okta_metrics(Registry& registry, okta::Client& client) {
  okta::Client* c = &client;
  registry.collector("oktaguard_okta_requests_total", "Okta API requests by result", MetricType::counter, {"result"},
                     [c] {
                       okta::Transport* t = c->transport();
                       if (!t) return std::vector<Sample>{};
                       okta::TransportStats s = t->stats();
                       return std::vector<Sample>{{{"answered"}, static_cast<double>(s.succeeded)},
                                                  {{"failed"}, static_cast<double>(s.failed)}};
                     });
  registry.collector("oktaguard_okta_retries_total", "Okta API attempts beyond the first", MetricType::counter, {},
                     [c] {
                       okta::Transport* t = c->transport();
                       return std::vector<Sample>{{{}, t ? static_cast<double>(t->stats().retries) : 0.0}};
                     });
  registry.collector(
      "oktaguard_okta_429_total", "HTTP 429 answers from Okta, by cause", MetricType::counter, {"cause"}, [c] {
        okta::Transport* t = c->transport();
        if (!t) return std::vector<Sample>{};
        okta::TransportStats s = t->stats();
        return std::vector<Sample>{{{"rate_limit"}, static_cast<double>(s.responses_429 - s.concurrency_429)},
                                   {{"concurrency"}, static_cast<double>(s.concurrency_429)}};
      });
  // Latency as Prometheus summary parts (sum and count) plus the maximum, per rate-limit bucket.
  registry.collector("oktaguard_okta_latency_seconds_sum", "Total time Okta requests took, waits included",
                     MetricType::counter, {"operation"}, [c] {
                       std::vector<Sample> out;
                       if (okta::Transport* t = c->transport())
                         for (const auto& b : t->stats().latency)
                           out.push_back({{std::string(okta::to_string(b.bucket))}, b.total.count() / 1e6});
                       return out;
                     });
  registry.collector("oktaguard_okta_latency_seconds_count", "Okta requests answered", MetricType::counter,
                     {"operation"}, [c] {
                       std::vector<Sample> out;
                       if (okta::Transport* t = c->transport())
                         for (const auto& b : t->stats().latency)
                           out.push_back({{std::string(okta::to_string(b.bucket))}, static_cast<double>(b.count)});
                       return out;
                     });
  registry.collector("oktaguard_okta_latency_seconds_max", "Slowest Okta request so far", MetricType::gauge,
                     {"operation"}, [c] {
                       std::vector<Sample> out;
                       if (okta::Transport* t = c->transport())
                         for (const auto& b : t->stats().latency)
                           out.push_back({{std::string(okta::to_string(b.bucket))}, b.max.count() / 1e6});
                       return out;
                     });
  registry.collector(
      "oktaguard_okta_rate_limit_remaining",
      "Requests left in the current Okta rate-limit window, per bucket (from X-Rate-Limit-Remaining)",
      MetricType::gauge, {"bucket"}, [c] {
        std::vector<Sample> out;
        if (okta::Transport* t = c->transport())
          for (const auto& b : t->rate_limits().buckets)
            if (b.known) out.push_back({{std::string(okta::to_string(b.bucket))}, static_cast<double>(b.remaining)});
        return out;
      });
  registry.collector("oktaguard_okta_rate_limit_limit", "Size of the Okta rate-limit window, per bucket",
                     MetricType::gauge, {"bucket"}, [c] {
                       std::vector<Sample> out;
                       if (okta::Transport* t = c->transport())
                         for (const auto& b : t->rate_limits().buckets)
                           if (b.known)
                             out.push_back({{std::string(okta::to_string(b.bucket))}, static_cast<double>(b.limit)});
                       return out;
                     });
  registry.collector("oktaguard_okta_in_flight", "Okta requests in flight", MetricType::gauge, {}, [c] {
    okta::Transport* t = c->transport();
    return std::vector<Sample>{{{}, t ? static_cast<double>(t->stats().in_flight) : 0.0}};
  });
  registry.collector("oktaguard_identity_answers_total", "Identity resolutions by where the answer came from",
                     MetricType::counter, {"from"}, [c] {
                       okta::IdentityStats s = c->identity().stats();
                       return std::vector<Sample>{{{"given_id"}, static_cast<double>(s.given_ids)},
                                                  {{"learned"}, static_cast<double>(s.learned_hits)},
                                                  {{"cache"}, static_cast<double>(s.cache_hits)},
                                                  {{"negative_cache"}, static_cast<double>(s.negative_hits)},
                                                  {{"lookup"}, static_cast<double>(s.lookups)},
                                                  {{"coalesced"}, static_cast<double>(s.coalesced)},
                                                  {{"rejected"}, static_cast<double>(s.rejected)}};
                     });
}

}  // namespace og::daemon
