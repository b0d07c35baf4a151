#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "correlator/symbol.h"
#include "correlator/text.h"

namespace og::correlator {

// Event time. Okta's `published` carries milliseconds; finer fractions are truncated.
using EventTime = std::chrono::sys_time<std::chrono::milliseconds>;

// Where a record came from, so its acknowledgement can store the right Kafka offset. For file and
// stdin sources `topic` is the source name, `partition` is -1 and `offset` is the line number.
struct SourceOffset {
  Symbol topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  friend bool operator==(const SourceOffset&, const SourceOffset&) = default;
};

// What a third-party alert names its user by; Okta events always carry the Okta id.
enum class IdentityKind : std::uint8_t { okta_id, login, email };

// An actor or target as the System Log shows it (`actor`, `target[]`): id, type, alternateId,
// displayName. For third-party alerts only `alternate_id` (or `id`) is set, with `identity_kind`.
struct EntityRef {
  Text id;
  Symbol type;  // "User", "AppInstance", "Group", "PublicClientApp" ...
  Text alternate_id;
  Text display_name;
  IdentityKind identity_kind = IdentityKind::okta_id;
};

struct Geo {
  Text city;
  Symbol state;
  Symbol country;
  Text postal_code;  // a string even where a payload sends a number
  std::optional<double> lat;
  std::optional<double> lon;
};

// A value of a field that a loaded rule references but the fixed model does not hold.
using ExtraValue = std::variant<std::monostate /*null*/, Text, double, bool>;

struct ExtraField {
  std::uint16_t slot = 0;  // index into the FieldRegistry's extra paths
  ExtraValue value;
};

// One normalised event, owning all its data: the raw message buffer is gone by the time an Event
// reaches a correlator shard. Field names follow Okta's LogEvent; third-party alerts map into the
// same shape (alert type -> event_type, user -> actor, message -> display_message).
struct Event {
  // The members most rules read come first, so that reading an event touches few cache lines (events
  // reach a shard from another core, or from a pool much larger than the cache).
  Text uuid;  // empty when the payload has none
  EventTime published{};
  bool time_from_payload = false;  // false: `published` is the Kafka/ingest timestamp fallback

  Symbol source;      // the configured source name ("okta", "edr", ...)
  Symbol event_type;  // eventType, or the alert type of a third-party alert
  // outcome
  Symbol outcome_result;  // SUCCESS | FAILURE | SKIPPED | ALLOW | DENY | CHALLENGE | UNKNOWN

  EntityRef actor;

  // client
  Text client_ip;
  Symbol user_agent_os;
  Symbol user_agent_browser;
  Symbol client_device;
  Symbol client_zone;
  // authenticationContext
  Text external_session_id;
  Symbol credential_type;
  Symbol credential_provider;
  Symbol authentication_provider;

  Geo geo;  // client.geographicalContext

  // securityContext
  std::optional<std::int64_t> as_number;
  std::optional<bool> is_proxy;
  Text as_org;
  Text isp;
  Text domain;

  Text user_agent;  // client.userAgent.rawUserAgent
  Symbol severity;  // DEBUG | INFO | WARN | ERROR, or the alert's severity
  Symbol outcome_reason;
  std::vector<EntityRef> targets;
  Text root_session_id;

  // debugContext.debugData (values as Okta sends them: strings, even for JSON-like content)
  Text debug_risk;              // e.g. "{level=HIGH, reasons=...}"
  Text debug_threat_suspected;  // "true" / "false"
  Text debug_behaviors;
  Text debug_request_uri;
  Text debug_dt_hash;

  Text display_message;
  Text transaction_id;
  std::vector<std::string> ip_chain;  // request.ipChain[].ip

  std::vector<ExtraField> extras;  // sorted by slot

  SourceOffset origin;
  std::int64_t ingest_timestamp_ms = 0;  // Kafka message timestamp, or read time
};

// Asks the CPU to start loading the members most rules read (those before `user_agent`), for an event
// that is applied next: it usually arrives from another core or has waited in the reorder buffer
// long enough to leave the cache, and loading it line by line costs a miss per line.
inline void prefetch_hot_members(const Event& event) {
  const char* begin = reinterpret_cast<const char*>(&event);
  const char* end = reinterpret_cast<const char*>(&event.user_agent);
  for (const char* line = begin; line < end; line += 64)
    __builtin_prefetch(line);
  __builtin_prefetch(end - 1);
}

}  // namespace og::correlator
