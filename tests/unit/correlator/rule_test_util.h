#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "correlator/engine.h"
#include "correlator/rule_set.h"

namespace og::test {

using namespace og::correlator;

// 2024-01-01T00:00:00Z plus an offset.
inline EventTime at(std::chrono::milliseconds offset) {
  return EventTime(std::chrono::milliseconds(1'704'067'200'000LL)) + offset;
}

inline Event make_event(std::string type, std::string actor, EventTime time, std::string uuid = {}) {
  Event e;
  e.uuid = uuid.empty() ? type + "/" + actor + "/" + std::to_string(time.time_since_epoch().count()) : uuid;
  e.published = time;
  e.time_from_payload = true;
  e.source = Symbol::intern("okta");
  e.event_type = Symbol::intern(type);
  e.actor.id = std::move(actor);
  e.actor.type = Symbol::intern("User");
  e.actor.alternate_id = e.actor.id.str() + "@example.com";
  return e;
}

inline std::shared_ptr<const RuleSet> load_ok(const std::string& yaml, const std::string& name = "test.yml") {
  LoadResult r = load_rules_from_sources({RuleSource{name, yaml}});
  EXPECT_TRUE(r.ok()) << render_text(r.diagnostics);
  return r.rules;
}

inline Diagnostics load_fail(const std::string& yaml, const std::string& name = "test.yml") {
  LoadResult r = load_rules_from_sources({RuleSource{name, yaml}});
  EXPECT_FALSE(r.ok());
  return r.diagnostics;
}

inline std::vector<std::string> ids(const std::vector<Detection>& ds) {
  std::vector<std::string> out;
  for (const Detection& d : ds)
    out.push_back(d.id);
  return out;
}

}  // namespace og::test
