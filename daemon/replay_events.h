#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/engine.h"
#include "correlator/json_text.h"
#include "correlator/parse.h"
#include "correlator/rule_set.h"

// Shared by `rules test` and `replay`: turning recorded events into engine input and rendering the
// engine's output. Neither command talks to Okta; both run one Shard over events in event-time order.
namespace og::daemon {

// Third-party alert mappings by source name, read from `*.mapping.yaml` files (the shape of
// examples/alerts/: `source`, `format: alert`, `mapping`).
struct AlertSources {
  std::map<std::string, correlator::AlertMapping, std::less<>> by_source;
};

// Loads every *.mapping.yaml of `dir` (or the one file). Problems go to `err`; false on any.
bool load_alert_mappings(const std::filesystem::path& path, AlertSources& out, std::ostream& err);

// One input record: its text and where it came from ("file.ndjson:12"), for messages.
struct RecordText {
  std::string where;
  std::string text;
};

// The records of an NDJSON file or a JSON array document (as GET /api/v1/logs returns); blank lines
// are skipped.
std::vector<RecordText> split_records(std::string_view document, std::string_view origin);

struct ParsedEvents {
  std::vector<correlator::Event> events;
  std::vector<std::string> errors;  // "where: reason", one per record that did not parse
  // Okta user id -> login, from the actors and targets seen, to show people rather than ids.
  std::map<std::string, std::string, std::less<>> logins;
};

// Parses records with the real parsers: an Okta LogEvent by default, or a third-party alert when the
// record is the envelope `{"alert_source": "edr", "alert": {...}}` (the alert payload verbatim, the
// source naming its mapping). An event without a uuid gets its record position as uuid, so evidence
// always points somewhere.
ParsedEvents parse_records(const std::vector<RecordText>& records, const correlator::RuleSet& rules,
                           const AlertSources& alerts);

// Orders events as the engine's reorder buffer does: by (event time, uuid), stable.
void sort_by_event_time(std::vector<correlator::Event>& events);

// Drops, from events sorted by event time, those the daemon's ingest drops as already seen (same
// source and uuid within its default de-duplication horizon): the same export given twice, or
// overlapping exports, would otherwise count one event twice. Returns how many were dropped.
std::size_t drop_repeated_events(std::vector<correlator::Event>& events);

std::string format_time(correlator::EventTime t);  // 2024-01-01T00:00:00.000Z
using correlator::json_quote;
std::string_view action_params(const correlator::Decision& d, std::string& scratch);  // "group=Step-up MFA ttl=24h"

}  // namespace og::daemon
