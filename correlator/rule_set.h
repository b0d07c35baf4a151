#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "correlator/diagnostics.h"
#include "correlator/event.h"
#include "correlator/fields.h"
#include "correlator/rule_predicate.h"

namespace og::correlator {

using Duration = std::chrono::milliseconds;

struct SourcePos {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

enum class DetectionSeverity : std::uint8_t { info, low, medium, high, critical };
std::string_view to_string(DetectionSeverity s);

enum class ConstructKind : std::uint8_t {
  single,
  threshold,
  distinct,
  sequence,
  absence,
  geo_velocity,
  first_seen,
  evidence
};
std::string_view to_string(ConstructKind k);

enum class RiskTo : std::uint8_t { actor, targets, key, key_users };

struct SequenceStep {
  Predicate where;  // includes the detection's own `where`
  std::uint32_t count = 1;
};

struct EvidenceSignal {
  std::optional<std::uint32_t> detection;  // index into RuleSet::detections
  Predicate where;                         // when `detection` is empty
  double points = 0;
};

struct DetectionRule {
  std::string id;
  std::string title;
  std::string description;
  DetectionSeverity severity = DetectionSeverity::medium;
  std::vector<Symbol> sources;  // empty: any source
  Predicate where;
  std::vector<FieldRef> key;
  std::string key_text;        // "actor.id" or "client.ipAddress+actor.id", for explanations
  std::uint16_t key_slot = 0;  // detections with the same key share a slot: the key is read once per event
  ConstructKind kind = ConstructKind::single;

  std::uint32_t count = 1;  // threshold, distinct
  Duration within{0};       // threshold, distinct, sequence, absence, evidence
  FieldRef field;           // distinct, first_seen
  std::vector<SequenceStep> steps;
  Predicate absence_first;
  Predicate absence_then;
  double max_kmh = 0;
  double min_km = 0;
  Duration forget_after{0};  // geo_velocity, first_seen
  Duration learning{0};      // first_seen
  std::uint32_t max_values = 16;
  std::vector<EvidenceSignal> signals;
  double min_points = 0;

  double risk = 0;
  RiskTo risk_to = RiskTo::actor;
  Duration cooldown{0};
  bool enabled = true;

  // Index: the eventTypes that can matter to this detection (empty: any).
  std::vector<Symbol> event_types;
  // Evidence detections that listen to this one (indexes into RuleSet::detections).
  std::vector<std::uint32_t> listeners;
  // Hash of the detection's definition: state survives a reload only when it is unchanged.
  std::uint64_t fingerprint = 0;
  SourcePos pos;
};

enum class ActionKind : std::uint8_t {
  suspend,
  unsuspend,
  clear_sessions,
  expire_password,
  reset_password,
  set_profile,
  add_to_group,
  remove_from_group,
  set_user_risk,
  notify,
};
std::string_view to_string(ActionKind k);
std::optional<ActionKind> action_kind_from(std::string_view name);

// `{{ 100 - risk }}`: a tiny arithmetic language over the decision's context.
struct TemplateExpr {
  enum class Kind : std::uint8_t { number, variable, add, sub, mul, div };
  Kind kind = Kind::number;
  double number = 0;
  std::string variable;  // risk | detection | detection_title | user | key | severity
  std::vector<TemplateExpr> operands;
};

struct Template {
  struct Part {
    std::string literal;
    std::optional<TemplateExpr> expr;
  };
  std::vector<Part> parts;
  std::string source;
  bool empty() const { return parts.empty(); }
};

struct TemplateContext {
  double risk = 0;
  std::string_view detection;
  std::string_view detection_title;
  std::string_view user;
  std::string_view key;
  std::string_view severity;
};
std::string render_template(const Template& t, const TemplateContext& ctx);

struct ActionSpec {
  ActionKind kind = ActionKind::notify;
  std::optional<Duration> ttl;
  bool oauth_tokens = false;
  bool forget_devices = false;
  bool temp_password = false;
  bool revoke_sessions = false;
  bool send_email = true;
  std::string group;  // group name, or id when group_is_id
  bool group_is_id = false;
  std::vector<std::pair<std::string, Template>> profile;
  std::string level;  // set_user_risk: LOW | MEDIUM | HIGH
  Template message;   // notify
};

struct ResponseCondition {
  enum class Kind : std::uint8_t { risk_at_least, detection, severity_at_least, all, any, negate };
  Kind kind = Kind::all;
  double risk = 0;
  std::vector<std::uint32_t> detections;
  DetectionSeverity severity = DetectionSeverity::info;
  std::vector<ResponseCondition> children;
};

struct ResponseRule {
  std::string id;
  ResponseCondition when;
  Duration cooldown = std::chrono::hours(1);
  Duration escalation_horizon = std::chrono::hours(24 * 7);
  std::vector<std::vector<ActionSpec>> tiers;
  std::uint64_t fingerprint = 0;
  SourcePos pos;
};

struct ExceptionRule {
  std::string id;
  std::vector<std::uint32_t> detections;  // empty and responses empty: applies to everything
  std::vector<std::uint32_t> responses;
  std::vector<std::string> users;  // id or login
  std::vector<std::string> groups;
  std::vector<Cidr> ips;
  Predicate where;
  bool has_where = false;
  std::optional<EventTime> expires;
  std::string reason;
  SourcePos pos;
  bool applies_to_detection(std::uint32_t d) const;
  bool applies_to_response(std::uint32_t r) const;
};

struct RiskExpectation {
  std::string user;
  std::string op;  // >= > <= < ==
  double value = 0;
};

struct RuleTest {
  std::string name;
  std::string file;                      // the rule file that holds the test
  std::filesystem::path events_file;     // absolute, when events come from NDJSON
  std::vector<std::string> events_json;  // inline events, each rendered as one JSON object
  // Alert mapping files or directories (absolute) for the case's third-party alert events, from the
  // case's `mappings` key; `rules test --mappings` overrides them per source.
  std::vector<std::filesystem::path> alert_mappings;
  std::vector<std::string> expect_detections;
  // Set when `detections` is present, so `detections: []` ("nothing fires") differs from no key.
  bool expect_detections_given = false;
  std::vector<std::string> expect_not_detections;
  std::vector<RiskExpectation> expect_risk;
  std::vector<ActionKind> expect_actions;
  bool expect_actions_given = false;
  SourcePos pos;
};

struct RuleSettings {
  Duration risk_half_life = std::chrono::hours(24);
  Duration lateness = std::chrono::minutes(2);
  std::size_t max_tracked_keys = 1'000'000;
};

// A compiled, immutable rule set. Share it as std::shared_ptr<const RuleSet>.
struct RuleSet {
  std::vector<DetectionRule> detections;  // in evaluation order: an evidence detection after its signals
  std::vector<ResponseRule> responses;
  std::vector<ExceptionRule> exceptions;
  std::vector<RuleTest> tests;
  RuleSettings settings;
  FieldRegistry fields;  // the extra paths the parser must extract for these rules

  // Candidate detections per eventType, plus those that accept any type.
  std::unordered_map<Symbol, std::vector<std::uint32_t>> by_event_type;
  std::vector<std::uint32_t> any_event_type;
  std::uint16_t key_slots = 0;             // distinct keys among the detections
  std::uint32_t predicate_memo_slots = 0;  // see prepare_predicates
  // Exceptions per detection / response (indexes into `exceptions`).
  std::vector<std::vector<std::uint32_t>> detection_exceptions;
  std::vector<std::vector<std::uint32_t>> response_exceptions;

  std::optional<std::uint32_t> find_detection(std::string_view id) const;
  std::optional<std::uint32_t> find_response(std::string_view id) const;
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  // null when any error was found
  Diagnostics diagnostics;
  bool ok() const { return rules != nullptr; }
};

struct RuleSource {
  std::string name;  // shown in diagnostics; also the base for relative test paths
  std::string text;
};

// Loads and compiles rule files (a directory loads its *.yml / *.yaml files, sorted by name). Never
// throws: every problem is a diagnostic.
LoadResult load_rules(const std::vector<std::filesystem::path>& paths);
LoadResult load_rules_from_sources(const std::vector<RuleSource>& sources);

}  // namespace og::correlator
