#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "correlator/event.h"
#include "correlator/rule_set.h"

namespace og::correlator {

// A user that receives risk or a response: the Okta user id, or (for a third-party alert that the
// resolver could not map) the login or email it named.
struct UserRef {
  std::string id;
  IdentityKind kind = IdentityKind::okta_id;
  friend bool operator==(const UserRef&, const UserRef&) = default;
};

// A detection that fired: which rule, for which key value, naming which users, on which evidence.
struct Detection {
  std::uint32_t rule = 0;  // index into the RuleSet that produced it
  std::string id;
  std::string key;  // the key value ("00u1abc", "203.0.113.9")
  DetectionSeverity severity = DetectionSeverity::medium;
  EventTime time{};          // event time of the completing event (absence: the deadline)
  EventTime window_start{};  // the oldest contributing event
  std::vector<UserRef> users;
  double risk = 0;                    // points added to each user
  std::vector<std::string> evidence;  // uuids of the contributing events
};

// What the response engine should do. Plain data; the correlator never executes it.
struct Decision {
  std::string id;  // deterministic: hash of response, user, incident time, ordinal (idempotency key)
  std::string response;
  UserRef user;
  ActionKind action = ActionKind::notify;
  std::optional<Duration> ttl;  // suspend, add_to_group, remove_from_group: auto-revert after it
  bool oauth_tokens = false;
  bool forget_devices = false;
  bool temp_password = false;
  bool revoke_sessions = false;
  bool send_email = false;
  std::string group;  // name, or id when group_is_id
  bool group_is_id = false;
  std::vector<std::pair<std::string, std::string>> profile;  // attribute, rendered value
  std::string level;                                         // set_user_risk
  std::string message;                                       // notify
  std::uint32_t ordinal = 0;                                 // position within the tier's action list
  std::uint32_t tier = 0;                                    // 0-based escalation tier
  // Why: the detection that triggered it, its evidence, and the user's risk at that moment.
  std::vector<std::string> detections;
  std::vector<std::string> evidence;
  double risk = 0;
  EventTime time{};
};

std::string decision_id(std::string_view response, const UserRef& user, EventTime incident, std::uint32_t ordinal);

}  // namespace og::correlator
