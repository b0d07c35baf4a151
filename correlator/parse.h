#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/event.h"
#include "correlator/fields.h"

namespace og::correlator {

// Why a message could not become an Event. to_string() gives the stable snake_case reason used in
// metrics labels, logs and the dead-letter topic's `og-reason` header.
enum class ParseError : std::uint8_t {
  empty,             // zero bytes, or only whitespace
  too_large,         // over ParserLimits::max_message_bytes
  invalid_json,      // not JSON, or truncated
  trailing_content,  // a valid document followed by more bytes
  invalid_utf8,
  too_deep,       // nesting beyond ParserLimits::max_depth
  not_an_object,  // valid JSON, but not an object
  wrong_type,     // a field the model needs has the wrong JSON type
  missing_field,  // a field the format requires is absent (e.g. eventType)
  // Parsed, but its event time is further ahead of its ingest time than the daemon allows
  // (IngestLimits::max_future_skew). Set by the daemon's ingest step, never by a parser.
  future_time,
};

std::string_view to_string(ParseError error);

struct ParseFailure {
  ParseError error = ParseError::invalid_json;
  std::string detail;  // which field or where; never the message's content (it may hold secrets)
};

struct ParserLimits {
  std::size_t max_message_bytes = 1 << 20;
  std::size_t max_depth = 64;
};

// Where a record came from; copied into the Event.
struct RecordMeta {
  Symbol source;
  SourceOffset origin;
  std::int64_t ingest_timestamp_ms = 0;  // Kafka message timestamp (or read time): the event-time fallback
};

// How a third-party alert source maps its JSON into an Event. Pointers are RFC 6901 JSON pointers.
struct AlertMapping {
  std::string time_pointer;  // e.g. "/detect_time"; empty: use the ingest timestamp
  std::string user_pointer;  // required
  IdentityKind user_kind = IdentityKind::email;
  std::string source_ip_pointer;
  std::string alert_type_pointer;  // -> Event::event_type; required
  std::string alert_type_prefix;   // prepended to the alert type ("edr.")
  std::string severity_pointer;
  std::string message_pointer;  // -> Event::display_message
  std::string uuid_pointer;     // the alert's own id, for de-duplication
  // Extra fields exposed to rules under a name: {"edr.tactic", "/behaviors/0/tactic"}.
  std::vector<std::pair<std::string, std::string>> extra_fields;
};

enum class SourceFormat : std::uint8_t { okta_system_log, alert };

// Turns one message into an Event. A parser owns its simdjson parser and padded buffer, so use one
// per thread; it is not thread-safe. The returned Event owns all its data.
class EventParser {
 public:
  virtual ~EventParser() = default;
  virtual boost::system::result<Event, ParseFailure> parse(std::string_view payload, const RecordMeta& meta) = 0;
};

// `extras` lists the paths outside the fixed model that loaded rules need (may be null: none).
// The registry must outlive the parser.
std::unique_ptr<EventParser> make_okta_parser(const FieldRegistry* extras, ParserLimits limits = {});
std::unique_ptr<EventParser> make_alert_parser(AlertMapping mapping, const FieldRegistry* extras,
                                               ParserLimits limits = {});

// Splits a JSON array of events (as Okta's GET /api/v1/logs returns) into one payload per element,
// for the file source. Returns the failure of the array as a whole when it is not an array.
boost::system::result<std::vector<std::string>, ParseFailure> split_json_array(std::string_view document,
                                                                               ParserLimits limits = {});

// Drops redelivered events: the same uuid seen within `horizon` of event time. Bounded memory.
class Deduplicator {
 public:
  Deduplicator(std::chrono::milliseconds horizon, std::size_t max_entries);
  ~Deduplicator();
  // True when the event was seen before (a duplicate to drop). Events without a uuid are never dups.
  bool seen_before(const Event& event);
  std::size_t size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace og::correlator
