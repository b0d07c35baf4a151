#pragma once

// Test helpers shared by the operations tests: the recorded Okta exchanges (okta-sdk-python cassettes)
// and a scripted SendFn that records every request.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <deque>
#include <string>
#include <vector>

#include "okta_client/outcome.h"
#include "tests/support/data.h"

namespace og::test {

struct Exchange {
  std::size_t line = 0;
  std::string cassette;
  std::string method;
  std::string uri;
  unsigned status = 0;
  std::string response_body;  // JSON text as recorded ("" for null)
  std::vector<std::pair<std::string, std::string>> response_headers;
};

inline std::vector<Exchange> load_exchanges() {
  const auto path = shared_data_dir() / "okta-api-cassettes/okta-sdk-python/exchanges.ndjson";
  std::vector<Exchange> out;
  simdjson::dom::parser parser;
  std::size_t n = 0;
  for (const auto& line : read_lines(path)) {
    simdjson::dom::element e;
    if (parser.parse(line).get(e)) {
      ADD_FAILURE() << "bad exchange line " << n;
      continue;
    }
    Exchange x;
    x.line = n++;
    x.cassette = std::string(std::string_view(e["cassette"]));
    x.method = std::string(std::string_view(e["method"]));
    x.uri = std::string(std::string_view(e["uri"]));
    x.status = static_cast<unsigned>(int64_t(e["status"]));
    simdjson::dom::element body = e["response_body"];
    if (body.is_string()) {
      x.response_body = std::string(std::string_view(body));
    } else if (!body.is_null()) {
      x.response_body = simdjson::minify(body);
    }
    for (auto [k, v] : simdjson::dom::object(e["response_headers"])) {
      x.response_headers.emplace_back(std::string(k), std::string(std::string_view(v)));
    }
    out.push_back(std::move(x));
  }
  return out;
}

// The first exchange whose method matches and whose URI contains `uri_part` (and status, if given).
inline const Exchange& find_exchange(const std::vector<Exchange>& all, std::string_view method,
                                     std::string_view uri_part, unsigned status = 0) {
  for (const auto& x : all) {
    if (x.method == method && x.uri.find(uri_part) != std::string::npos && (status == 0 || x.status == status)) {
      return x;
    }
  }
  ADD_FAILURE() << "no recorded exchange " << method << " " << uri_part;
  static const Exchange none;
  return none;
}

inline okta::Response to_response(const Exchange& x) {
  okta::Response r;
  r.status = x.status;
  r.body = x.response_body;
  r.headers = x.response_headers;
  return r;
}

inline okta::Response response(unsigned status, std::string body = {},
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  okta::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

inline okta::TransportFailure failure(okta::TransportError e, int attempts = 1) {
  return okta::TransportFailure{e, "scripted", attempts};
}

// A SendFn that records requests and answers each from a script, in order. With `deferred`, answers
// wait until release() is called (to model requests in flight).
class ScriptedSender {
 public:
  using Answer = boost::system::result<okta::Response, okta::TransportFailure>;

  void push(okta::Response r) { script_.emplace_back(std::move(r)); }
  void push(okta::TransportFailure f) { script_.emplace_back(f); }
  void set_deferred(bool d) { deferred_ = d; }

  okta::SendFn fn() {
    return [this](okta::Request req, okta::ResponseHandler h) {
      requests.push_back(req);
      if (deferred_) {
        held_.push_back(std::move(h));
        return;
      }
      answer(std::move(h));
    };
  }

  // Answers every held request, in order.
  void release() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& h : held)
      answer(std::move(h));
  }
  std::size_t held() const { return held_.size(); }

  std::vector<okta::Request> requests;

 private:
  void answer(okta::ResponseHandler h) {
    if (script_.empty()) {
      ADD_FAILURE() << "unscripted request " << requests.back().target;
      h(okta::TransportFailure{okta::TransportError::connect_failed, "unscripted", 1});
      return;
    }
    Answer a = std::move(script_.front());
    script_.pop_front();
    h(std::move(a));
  }

  std::deque<Answer> script_;
  std::vector<okta::ResponseHandler> held_;
  bool deferred_ = false;
};

// Every log line, for asserting that secrets never appear.
struct CapturedLog {
  std::vector<std::string> lines;
  okta::LogSink sink() {
    return [this](okta::LogLevel, std::string_view line) { lines.emplace_back(line); };
  }
  std::string joined() const {
    std::string s;
    for (const auto& l : lines)
      s += l + "\n";
    return s;
  }
};

}  // namespace og::test
