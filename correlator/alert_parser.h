#pragma once

#include <simdjson.h>

#include <string>
#include <vector>

#include "correlator/json_util.h"
#include "correlator/parse.h"

namespace YAML {
class Node;
}

namespace og::correlator {

// A third-party alert (EDR, UEBA, VPN/ZTNA ...) -> Event, through a per-source AlertMapping of JSON
// pointers. The whole document is validated first (one pass), then each mapped pointer is read.
//
// Rule extras: a registry path equal to a mapping's extra field name ("edr.tactic") is read through
// the mapping's pointer; any other registry path is read from the alert by its own pointer.
class AlertParser final : public EventParser {
 public:
  AlertParser(AlertMapping mapping, const FieldRegistry* extras, ParserLimits limits);
  boost::system::result<Event, ParseFailure> parse(std::string_view payload, const RecordMeta& meta) override;

 private:
  // The pointer to read for each registry slot, rebuilt when the registry grows.
  const std::vector<std::string>& extra_pointers();

  AlertMapping mapping_;
  const FieldRegistry* extras_;
  ParserLimits limits_;
  simdjson::ondemand::parser parser_;
  json::PaddedBuffer buffer_;
  std::vector<std::string> extra_pointers_;
};

// A problem in an alert mapping's configuration, with its position in the YAML file (1-based;
// 0 when unknown).
struct MappingProblem {
  int line = 0;
  int column = 0;
  std::string path;  // the key, e.g. "mapping.user"
  std::string message;
};

struct MappingLoad {
  AlertMapping mapping;
  std::vector<MappingProblem> problems;  // empty: the mapping is usable
};

// Reads a mapping from its YAML form (the keys documented in docs/ingestion.md: time, user,
// user_kind, source_ip, alert_type, alert_type_prefix, severity, message, uuid, extra), as
// `sources.kafka.topics[].mapping` takes them in oktaguard.yaml.
// Every problem is collected; unknown keys are errors. `path` prefixes the reported key paths.
MappingLoad alert_mapping_from_yaml(const YAML::Node& node, std::string_view path = "mapping");

// An RFC 6901 JSON pointer a mapping may name: empty (unset), or '/'-separated with '~' only in the
// escapes ~0 and ~1.
bool valid_json_pointer(std::string_view pointer);

// Epoch numbers in alerts: seconds, milliseconds or microseconds, told apart by magnitude.
std::optional<EventTime> time_from_epoch_number(double value);

}  // namespace og::correlator
