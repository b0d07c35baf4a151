// libFuzzer target: the Okta System Log parser (with rule extras) and the API-page splitter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "correlator/parse.h"

using namespace og::correlator;

namespace {

FieldRegistry& registry() {
  static FieldRegistry r = [] {
    FieldRegistry reg;
    reg.resolve("legacyEventType");
    reg.resolve("debugContext.debugData.requestId");
    reg.resolve("securityContext.userBehaviors");
    reg.resolve("target.0.detailEntry");
    return reg;
  }();
  return r;
}

void check(const boost::system::result<Event, ParseFailure>& result) {
  if (!result) {
    // Every failure must carry one of the stable reasons.
    if (to_string(result.error().error).empty()) std::abort();
    return;
  }
  // An Event is only produced with an event type, and owns its strings.
  if (result->event_type.empty()) std::abort();
  volatile std::size_t sink = result->uuid.size() + result->actor.alternate_id.size() + result->extras.size();
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto parser = make_okta_parser(&registry(), ParserLimits{1 << 20, 64});
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  check(parser->parse(payload, RecordMeta{Symbol::intern("okta"), {}, 1}));
  if (!payload.empty() && payload.front() == '[') {
    if (auto parts = split_json_array(payload)) {
      for (const std::string& part : *parts)
        check(parser->parse(part, RecordMeta{}));
    }
  }
  return 0;
}
