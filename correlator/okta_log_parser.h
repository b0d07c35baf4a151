#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <vector>

#include "correlator/json_util.h"
#include "correlator/parse.h"

namespace og::correlator {

// Okta System Log `LogEvent` -> Event. One pass over each object, dispatching on the key, so key
// order does not matter and unknown fields are skipped unread. Rule-referenced extra paths that end
// in a key the pass skips, inside an object it walks, are read during the pass; the others by JSON
// pointer afterwards. Either way they cost nothing when no rule needs them.
class OktaLogParser final : public EventParser {
 public:
  OktaLogParser(const FieldRegistry* extras, ParserLimits limits) : extras_(extras), limits_(limits) {}
  boost::system::result<Event, ParseFailure> parse(std::string_view payload, const RecordMeta& meta) override;
  // Every extra path by JSON pointer after the pass: the reference the pass-time reads are tested
  // against.
  void read_extras_by_pointer_only(bool on) {
    pointer_only_ = on;
    planned_ = ~std::size_t{0};
  }

 private:
  using error_code = simdjson::error_code;
  using value = simdjson::ondemand::value;
  using object = simdjson::ondemand::object;

  // Records the path of the first failing field for ParseFailure::detail.
  error_code at(error_code error, const char* path) {
    if (error && where_ == nullptr) where_ = path;
    return error;
  }
  // The objects the pass walks, where an extra path can be matched on the way. `live` below means
  // the object being walked is the one a JSON pointer lookup would reach (the first occurrence of
  // its key, unescaped, in a live parent) and holds planned extras.
  enum Node : std::uint8_t {
    kRoot,
    kActor,
    kClient,
    kUserAgent,
    kGeo,
    kGeolocation,
    kOutcome,
    kAuthentication,
    kSecurity,
    kDebugContext,
    kDebugData,
    kTransaction,
    kRequest,
  };
  struct WalkExtra {
    Node node;
    std::string key;  // the pointer's last token, compared with the raw key as simdjson does
    std::uint16_t slot;
  };
  struct WalkExtraState {
    // deferred: the value is not a plain scalar, so it is read by pointer after the pass.
    enum class Kind : std::uint8_t { absent, read, failed, deferred };
    Kind kind = Kind::absent;
    error_code error = simdjson::SUCCESS;
    ExtraValue value;
  };
  // Whether a key is a view of the input, i.e. was not unescaped (key_of copies only keys with
  // an escape, into simdjson's string buffer).
  bool in_input(std::string_view key) const {
    const auto at = reinterpret_cast<std::uintptr_t>(key.data()),
               begin = reinterpret_cast<std::uintptr_t>(input_.data());
    return at >= begin && at <= begin + input_.size();
  }
  // parse(), into a default-constructed Event.
  std::optional<ParseFailure> parse_into(std::string_view payload, const RecordMeta& meta, Event& event);
  void plan_extras();
  bool enter(Node child, bool parent_live, std::string_view key);
  void match_extra(Node node, simdjson::ondemand::field& field, std::string_view key);
  std::optional<ParseFailure> finish_extras(simdjson::ondemand::document& doc, std::vector<ExtraField>& out);

  error_code parse_root(object root, Event& event, bool live);
  error_code parse_entity(value v, EntityRef& entity, const char* path, bool& present, bool live);
  error_code parse_targets(value v, Event& event);
  error_code parse_client(value v, Event& event, bool live);
  error_code parse_user_agent(value v, Event& event, bool live);
  error_code parse_geo(value v, Geo& geo, bool live);
  error_code parse_geolocation(value v, Geo& geo, bool live);
  error_code parse_outcome(value v, Event& event, bool live);
  error_code parse_authentication_context(value v, Event& event, bool live);
  error_code parse_security_context(value v, Event& event, bool live);
  error_code parse_debug_context(value v, Event& event, bool live);
  error_code parse_debug_data(value v, Event& event, bool live);
  error_code parse_transaction(value v, Event& event, bool live);
  error_code parse_request(value v, Event& event, bool live);

  const FieldRegistry* extras_;
  ParserLimits limits_;
  simdjson::ondemand::parser parser_;
  json::PaddedBuffer buffer_;
  const char* where_ = nullptr;
  bool saw_event_type_ = false;
  std::string_view input_;      // the padded copy being parsed
  std::string_view published_;  // valid until the next iterate
  bool saw_published_ = false;

  bool pointer_only_ = false;
  std::size_t planned_ = 0;        // registry paths covered by the plan below
  std::vector<bool> walked_slot_;  // by slot: read during the pass
  std::vector<WalkExtra> walk_extras_;
  std::uint32_t extra_nodes_ = 0;            // nodes holding planned extras, or an ancestor of one
  std::uint32_t claimed_ = 0;                // nodes whose key has been met in their live parent
  std::vector<WalkExtraState> walk_states_;  // by slot
};

}  // namespace og::correlator
