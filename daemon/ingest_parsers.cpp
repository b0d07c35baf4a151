// Kept apart from ingest.cpp so tests that substitute parsers link without the correlator's.
#include "correlator/parse.h"
#include "daemon/ingest.h"

namespace og::daemon {
namespace {

class UuidDeduplicator final : public DuplicateFilter {
 public:
  UuidDeduplicator(std::chrono::milliseconds horizon, std::size_t max_entries) : dedupe_(horizon, max_entries) {}
  bool seen_before(const correlator::Event& event) override { return dedupe_.seen_before(event); }

 private:
  correlator::Deduplicator dedupe_;
};

}  // namespace

std::unique_ptr<DuplicateFilter> make_uuid_deduplicator(std::chrono::milliseconds horizon, std::size_t max_entries) {
  return std::make_unique<UuidDeduplicator>(horizon, max_entries);
}

std::unique_ptr<correlator::EventParser> make_default_parser(const SourceBinding& binding, const IngestLimits& limits,
                                                             const correlator::FieldRegistry* extras) {
  correlator::ParserLimits parser_limits{limits.max_message_bytes, limits.max_depth};
  switch (binding.format) {
    case correlator::SourceFormat::okta_system_log:
      return correlator::make_okta_parser(extras, parser_limits);
    case correlator::SourceFormat::alert:
      return correlator::make_alert_parser(binding.mapping, extras, parser_limits);
  }
  return nullptr;
}

IngestFactories default_ingest_factories(const IngestLimits& limits, const correlator::FieldRegistry* extras) {
  IngestFactories factories;
  factories.parser = [limits, extras](const SourceBinding& binding) {
    return make_default_parser(binding, limits, extras);
  };
  factories.dedupe = [limits] { return make_uuid_deduplicator(limits.dedupe_horizon, limits.dedupe_max_entries); };
  return factories;
}

}  // namespace og::daemon
