#pragma once

#include <simdjson.h>

#include "correlator/json_util.h"
#include "correlator/parse.h"

namespace og::correlator {

// Okta System Log `LogEvent` -> Event. One pass over each object, dispatching on the key, so key
// order does not matter and unknown fields are skipped unread; rule-referenced extra paths are read
// by JSON pointer afterwards, so they cost nothing when no rule needs them.
class OktaLogParser final : public EventParser {
 public:
  OktaLogParser(const FieldRegistry* extras, ParserLimits limits) : extras_(extras), limits_(limits) {}
  boost::system::result<Event, ParseFailure> parse(std::string_view payload, const RecordMeta& meta) override;

 private:
  using error_code = simdjson::error_code;
  using value = simdjson::ondemand::value;
  using object = simdjson::ondemand::object;

  // Records the path of the first failing field for ParseFailure::detail.
  error_code at(error_code error, const char* path) {
    if (error && where_ == nullptr) where_ = path;
    return error;
  }
  error_code parse_root(object root, Event& event);
  error_code parse_entity(value v, EntityRef& entity, const char* path, bool& present);
  error_code parse_targets(value v, Event& event);
  error_code parse_client(value v, Event& event);
  error_code parse_user_agent(value v, Event& event);
  error_code parse_geo(value v, Geo& geo);
  error_code parse_geolocation(value v, Geo& geo);
  error_code parse_outcome(value v, Event& event);
  error_code parse_authentication_context(value v, Event& event);
  error_code parse_security_context(value v, Event& event);
  error_code parse_debug_context(value v, Event& event);
  error_code parse_debug_data(value v, Event& event);
  error_code parse_transaction(value v, Event& event);
  error_code parse_request(value v, Event& event);

  const FieldRegistry* extras_;
  ParserLimits limits_;
  simdjson::ondemand::parser parser_;
  json::PaddedBuffer buffer_;
  const char* where_ = nullptr;
  bool saw_event_type_ = false;
  std::string_view published_;  // valid until the next iterate
  bool saw_published_ = false;
};

}  // namespace og::correlator
