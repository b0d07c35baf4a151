// libFuzzer target: the generic alert mapper. The first byte picks one of the shipped mappings'
// shapes, so each set of pointers is exercised against arbitrary documents.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "correlator/parse.h"

using namespace og::correlator;

namespace {

FieldRegistry& registry() {
  static FieldRegistry r = [] {
    FieldRegistry reg;
    reg.resolve("edr.tactic");
    reg.resolve("ueba.risk_score");
    reg.resolve("ueba.reasons");
    reg.resolve("vpn.result");
    reg.resolve("status");
    return reg;
  }();
  return r;
}

std::vector<std::unique_ptr<EventParser>> make_parsers() {
  std::vector<std::unique_ptr<EventParser>> parsers;
  AlertMapping edr;  // examples/alerts/edr-detection.mapping.yaml
  edr.time_pointer = "/created_at";
  edr.user_pointer = "/user/principal";
  edr.source_ip_pointer = "/device/external_ip";
  edr.alert_type_pointer = "/behavior/technique_id";
  edr.alert_type_prefix = "edr.";
  edr.severity_pointer = "/severity";
  edr.message_pointer = "/description";
  edr.uuid_pointer = "/detection_id";
  edr.extra_fields = {{"edr.tactic", "/behavior/tactic"}};
  parsers.push_back(make_alert_parser(edr, &registry()));

  AlertMapping ueba;  // examples/alerts/ueba-risk-change.mapping.yaml
  ueba.time_pointer = "/timestamp";
  ueba.user_pointer = "/entity/okta_id";
  ueba.user_kind = IdentityKind::okta_id;
  ueba.alert_type_pointer = "/type";
  ueba.severity_pointer = "/risk/level";
  ueba.uuid_pointer = "/id";
  ueba.extra_fields = {{"ueba.risk_score", "/risk/current"}, {"ueba.reasons", "/risk/reasons"}};
  parsers.push_back(make_alert_parser(ueba, &registry()));

  AlertMapping okta_shaped;  // pointers into arrays and escaped keys
  okta_shaped.time_pointer = "/published";
  okta_shaped.user_pointer = "/target/0/alternateId";
  okta_shaped.user_kind = IdentityKind::login;
  okta_shaped.alert_type_pointer = "/eventType";
  okta_shaped.source_ip_pointer = "/request/ipChain/0/ip";
  okta_shaped.message_pointer = "/a~1b/c~0d";
  okta_shaped.extra_fields = {{"vpn.result", "/outcome/result"}};
  parsers.push_back(make_alert_parser(okta_shaped, &registry()));
  return parsers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto parsers = make_parsers();
  if (size == 0) return 0;
  EventParser& parser = *parsers[data[0] % parsers.size()];
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto result = parser.parse(payload, RecordMeta{Symbol::intern("alerts"), {}, 1});
  if (result) {
    if (result->event_type.empty()) std::abort();
    if (result->actor.id.empty() && result->actor.alternate_id.empty()) std::abort();  // the user is required
  } else if (to_string(result.error().error).empty()) {
    std::abort();
  }
  return 0;
}
